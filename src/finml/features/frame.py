"""The trade features of one or more symbols in pandas / numpy: the same definitions as
:mod:`finml.features.indicators` (see its docstring), vectorised, O(n * window).

:func:`sequence_features` computes one symbol's ordered trades; the Spark build runs it per
(symbol, trading day) with a lookback halo, and :func:`features_frame` runs it per symbol in
one process (the single-machine floor the Spark build is measured against).

Nulls follow Spark's window aggregates: sums, means and standard deviations skip nulls, a
sample standard deviation of fewer than two values is null, a division by a zero standard
deviation is null (a window of equal values has a standard deviation of exactly 0, as
Spark's running moments give, whatever the rounding of the mean).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from finml.features.settings import FeatureSettings

KEYS = ("symbol", "ts", "trade_id")
SESSION_CODES = {"pre": 0, "regular": 1, "post": 2, "closed": 3}
EXCHANGE_TZ = "America/New_York"
_US = 1_000_000
_DAY_US = 86_400 * _US
_BLOCK = 1 << 14  # rows per block of window reductions: bounds the (rows, window) temporaries

Reduce = Callable[[np.ndarray], np.ndarray]


def feature_names(settings: FeatureSettings) -> list[str]:
    """The model features of a trade, in output order."""
    return [
        "log_return",
        *[f"vol_{w}" for w in settings.vol_windows],
        "rsi",
        "macd",
        "macd_signal",
        "macd_hist",
        "bb_pct_b",
        "return_z",
        "log_volume",
        "volume_z",
        "gap_s",
        "trades_1s",
        "trades_60s",
        "vwap_dist_day",
        "vwap_dist_20",
        "spread_proxy",
        "stale_repeat",
        "time_of_day",
        "session_code",
    ]


def truncated_ema(values: np.ndarray, span: int, horizon: int) -> np.ndarray:
    """Exponentially weighted mean (``alpha = 2/(span+1)``, normalised weights) of each
    position over the last ``horizon * span`` values, as two convolutions (O(n * window))."""
    decay = 1.0 - 2.0 / (span + 1.0)
    weights = decay ** np.arange(horizon * span)
    n = values.size
    return np.convolve(values, weights)[:n] / np.convolve(np.ones(n), weights)[:n]


def _window_reduce(values: np.ndarray, width: int, reduce: Reduce, *, previous: bool) -> np.ndarray:
    """``reduce`` of each row's window: the last ``width`` values up to and including the row
    (or, with ``previous``, the ``width`` values before it); NaN stands for a missing row."""
    shift = int(previous)
    padded = np.concatenate([np.full(width + shift, np.nan), values.astype(float)])
    windows = sliding_window_view(padded, width)[1 : values.size + 1]
    blocks = range(0, max(values.size, 1), _BLOCK)
    return np.concatenate([reduce(windows[a : a + _BLOCK]) for a in blocks])


def _mean_sd(ddof: int) -> Callable[[np.ndarray], np.ndarray]:
    """A reduction to (mean, sd) of each row's non-NaN values, stacked as columns."""

    def reduce(w: np.ndarray) -> np.ndarray:
        count = (~np.isnan(w)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(w, axis=1) / count
            m2 = np.nansum((w - mean[:, None]) ** 2, axis=1)
            sd = np.sqrt(m2 / (count - ddof))
        sd[np.fmax.reduce(w, axis=1) == np.fmin.reduce(w, axis=1)] = 0.0
        sd[count < 1 + ddof] = np.nan
        return np.stack([mean, sd], axis=1)

    return reduce


def _moments(
    values: np.ndarray, width: int, ddof: int, *, previous: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row's window (see :func:`_window_reduce`)."""
    out = _window_reduce(values, width, _mean_sd(ddof), previous=previous)
    return out[:, 0], out[:, 1]


def _nansum(w: np.ndarray) -> np.ndarray:
    """Sum of each row's non-NaN values; NaN when the row has none (Spark's null sum)."""
    total = np.nansum(w, axis=1)
    total[np.isnan(w).all(axis=1)] = np.nan
    return total


def _log(x: np.ndarray) -> np.ndarray:
    """Spark's ``log``: null (NaN) for a non-positive or null argument."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def _lagged(x: np.ndarray) -> np.ndarray:
    return np.concatenate([[np.nan], x[:-1]]) if x.size else x


def _zscore(x: np.ndarray, window: int) -> np.ndarray:
    mean, sd = _moments(x, window, 1, previous=True)
    with np.errstate(invalid="ignore"):
        return np.where(sd > 0, _ratio(x - mean, sd), np.nan)


def _price_features(price: np.ndarray, s: FeatureSettings) -> dict[str, np.ndarray]:
    """``log_return``, ``vol_N``, ``rsi``, MACD, ``bb_pct_b`` and ``return_z``."""
    r = _log(_ratio(price, _lagged(price)))
    diff = price - _lagged(price)
    # Spark's greatest() skips a null: the first trade adds 0 to gains and losses.
    gains = _window_reduce(np.nan_to_num(np.fmax(diff, 0.0)), s.rsi_period, _nansum, previous=False)
    losses = _window_reduce(
        np.nan_to_num(np.fmax(-diff, 0.0)), s.rsi_period, _nansum, previous=False
    )
    with np.errstate(invalid="ignore"):
        rsi = np.where(gains + losses > 0, _ratio(100.0 * gains, gains + losses), np.nan)
    slow = truncated_ema(price, s.macd_slow, s.ema_horizon)
    macd = (truncated_ema(price, s.macd_fast, s.ema_horizon) - slow) / slow
    signal = truncated_ema(macd, s.macd_signal, s.ema_horizon)
    bb_mean, bb_sd = _moments(price, s.bollinger_period, 0)
    k = s.bollinger_width
    with np.errstate(invalid="ignore"):
        bb = np.where(bb_sd > 0, _ratio(price - bb_mean + k * bb_sd, 2.0 * k * bb_sd), np.nan)
    vols = {f"vol_{w}": _moments(r, w, 1)[1] for w in s.vol_windows}
    return {
        "log_return": r,
        **vols,
        "rsi": rsi,
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": macd - signal,
        "bb_pct_b": bb,
        "return_z": _zscore(r, s.zscore_window),
    }


def _vwap_day(price: np.ndarray, volume: np.ndarray, day: np.ndarray) -> np.ndarray:
    """``ln(p / VWAP)`` of the earlier trades of the row's day (running sums, in order)."""
    frame = pd.DataFrame({"pv": price * volume, "v": volume, "day": day})
    running = frame.groupby("day", sort=False)[["pv", "v"]].cumsum()
    earlier = running.groupby(day, sort=False).shift(1)
    vwap = _ratio(earlier["pv"].to_numpy(float), earlier["v"].to_numpy(float))
    return _log(_ratio(price, vwap))


def _activity_features(
    ts_us: np.ndarray, price: np.ndarray, volume: np.ndarray, s: FeatureSettings
) -> dict[str, np.ndarray]:
    """``log_volume``, ``volume_z``, ``gap_s``, ``vwap_dist_20`` and ``spread_proxy``."""
    log_volume = _log(volume)
    rng = s.range_window
    pv = _window_reduce(price * volume, rng, _nansum, previous=True)
    v = _window_reduce(volume, rng, _nansum, previous=True)
    high = _window_reduce(price, rng, lambda w: np.fmax.reduce(w, axis=1), previous=False)
    low = _window_reduce(price, rng, lambda w: np.fmin.reduce(w, axis=1), previous=False)
    mean = _window_reduce(price, rng, lambda w: np.nanmean(w, axis=1), previous=False)
    return {
        "log_volume": log_volume,
        "volume_z": _zscore(log_volume, s.zscore_window),
        "gap_s": (ts_us - _lagged(ts_us.astype(float))) / _US,
        "vwap_dist_20": _log(_ratio(price, _ratio(pv, v))),
        "spread_proxy": _ratio(high - low, mean),
    }


def _history_features(
    ts_us: np.ndarray, price: np.ndarray, volume: np.ndarray, day: np.ndarray, s: FeatureSettings
) -> dict[str, np.ndarray]:
    """``trades_1s`` / ``trades_60s``, ``vwap_dist_day`` and ``stale_repeat``: the features
    that look back by time, over the day or over ``stale_lookback`` trades."""
    index = np.arange(ts_us.size)
    # The latest earlier trade at exactly this price decides whether it is a repeat.
    last_same = pd.Series(index).groupby(price, sort=False).shift(1).to_numpy(float)
    return {
        "trades_1s": (index - np.searchsorted(ts_us, ts_us - _US, "left") + 1).astype(float),
        "trades_60s": (index - np.searchsorted(ts_us, ts_us - 60 * _US, "left") + 1).astype(float),
        "vwap_dist_day": _vwap_day(price, volume, day),
        "stale_repeat": (index - last_same <= s.stale_lookback).astype(float),
    }


def windowed_features(
    ts_us: np.ndarray, price: np.ndarray, volume: np.ndarray, settings: FeatureSettings
) -> dict[str, np.ndarray]:
    """The features of ONE symbol's ordered trades that depend on at most
    ``settings.window_rows`` trades (every sequence feature but those of
    :func:`_history_features`), as float64 arrays."""
    price, volume = price.astype(float), volume.astype(float)
    ts_us = ts_us.astype(np.int64)
    return {
        **_price_features(price, settings),
        **_activity_features(ts_us, price, volume, settings),
    }


def sequence_features(
    ts_us: np.ndarray,
    price: np.ndarray,
    volume: np.ndarray,
    day: np.ndarray,
    settings: FeatureSettings,
) -> dict[str, np.ndarray]:
    """The sequence features of ONE symbol's trades sorted by ``(ts, trade_id)``: every
    feature except ``time_of_day`` and ``session_code`` (which need only the row), as float64
    arrays (NaN for null). ``ts_us`` is microseconds since the epoch, ``day`` the trading day."""
    price, volume = price.astype(float), volume.astype(float)
    ts_us = ts_us.astype(np.int64)
    return {
        **windowed_features(ts_us, price, volume, settings),
        **_history_features(ts_us, price, volume, day, settings),
    }


def time_of_day(ts_us: np.ndarray) -> np.ndarray:
    """New-York wall-clock time as a fraction of the day, from UTC microseconds."""
    utc = pd.to_datetime(ts_us.astype(np.int64), unit="us", utc=True)
    wall = utc.tz_convert(EXCHANGE_TZ).tz_localize(None)
    micros = (wall - wall.normalize()).to_numpy("timedelta64[us]").astype(np.int64)
    return micros / _DAY_US


def session_code(session: pd.Series) -> np.ndarray:
    """pre 0, regular 1, post 2, closed 3, anything else NaN."""
    return session.map({k: float(v) for k, v in SESSION_CODES.items()}).to_numpy(float)


def utc_micros(ts: pd.Series) -> np.ndarray:
    """Microseconds since the epoch of a timestamp column (naive = UTC)."""
    values = pd.to_datetime(ts)
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy("datetime64[us]").astype(np.int64)


def features_frame(trades: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Silver trades (symbol, ts, trade_id, price, volume, trade_date, session) of any number
    of symbols -> one row per trade, sorted by (symbol, ts, trade_id): the keys,
    ``_trade_date`` and :func:`feature_names` (float64, NaN for null), equal to the Spark
    build's :func:`finml.features.indicators.trade_features`."""
    ordered = trades.sort_values(list(KEYS), kind="stable").reset_index(drop=True)
    ts_us = utc_micros(ordered["ts"])
    symbols = ordered["symbol"].to_numpy()
    bounds = np.flatnonzero(symbols[1:] != symbols[:-1]) + 1
    days = pd.factorize(ordered["trade_date"])[0]
    price = ordered["price"].to_numpy(float)
    volume = ordered["volume"].to_numpy(float)
    parts = [
        sequence_features(ts_us[a:b], price[a:b], volume[a:b], days[a:b], settings)
        for a, b in zip(
            np.concatenate([[0], bounds]), np.concatenate([bounds, [len(ordered)]]), strict=True
        )
        if b > a
    ]
    names = feature_names(settings)
    columns = {
        name: np.concatenate([p[name] for p in parts]) if parts else np.empty(0)
        for name in names
        if name not in ("time_of_day", "session_code")
    }
    columns["time_of_day"] = time_of_day(ts_us)
    columns["session_code"] = session_code(ordered["session"])
    out = ordered[list(KEYS)].assign(_trade_date=ordered["trade_date"])
    return pd.concat([out, pd.DataFrame({n: columns[n] for n in names})], axis=1)
