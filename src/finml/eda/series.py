"""Per-symbol time-series statistics of 1-minute bars: stationarity of log prices and log
returns (ADF and KPSS, statsmodels), the intraday profile of volume and volatility by hour
of day (UTC), and the trend of the log price (OLS slope per day)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from finml.eda.records import Stat

MIN_POINTS = 20  # fewer bars than this: no stationarity test or trend for the symbol
_SECONDS_PER_DAY = 86_400.0


def series_stats(bars: pd.DataFrame, points: int, adf_max_lag: int = 12) -> list[Stat]:
    """Statistics of ``bars`` (columns ``symbol``, ``window_start``, ``close``, ``volume``)
    per symbol, on each symbol's latest ``points`` bars; ADF's lag is chosen by AIC up to
    ``adf_max_lag``."""
    stats: list[Stat] = []
    for symbol, group in bars.groupby("symbol", sort=True):
        frame = group.sort_values("window_start").tail(points)
        frame = frame[np.isfinite(frame["close"]) & (frame["close"] > 0)]
        if len(frame) < MIN_POINTS:
            continue
        log_price = np.log(frame["close"].to_numpy(dtype=float))
        returns = np.diff(log_price)
        for column, values in (("log_price", log_price), ("log_return", returns)):
            stats += _stationarity(str(symbol), column, values, adf_max_lag)
        stats += _intraday(str(symbol), frame, returns)
        stats.append(_trend(str(symbol), frame["window_start"], log_price))
    return stats


def _stationarity(symbol: str, column: str, values: np.ndarray, max_lag: int) -> list[Stat]:
    """ADF (H0: unit root) and KPSS (H0: level-stationary) of ``values``; a constant
    series has neither."""
    from statsmodels.tsa.stattools import adfuller, kpss

    if np.ptp(values) == 0:
        return []
    # Warnings silenced: a p outside KPSS's table is clipped to its bounds; a near-linear
    # series makes ADF's lag regressions rank-deficient (its p-value is still the answer).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lags = min(max_lag, len(values) // 2 - 2)
        adf = adfuller(values, maxlag=max(lags, 0), autolag="AIC", result_object=False)
        kpss_stat, kpss_p, kpss_lags, _ = kpss(values, regression="c", nlags="auto")
    adf_stat, adf_p, adf_lags, adf_nobs, critical = adf[:5]
    return [
        Stat(
            "adf_pvalue",
            adf_p,
            column,
            {"statistic": adf_stat, "lags": adf_lags, "nobs": adf_nobs, "critical": critical},
            symbol=symbol,
        ),
        Stat(
            "kpss_pvalue",
            kpss_p,
            column,
            {"statistic": kpss_stat, "lags": kpss_lags},
            symbol=symbol,
        ),
    ]


def _intraday(symbol: str, frame: pd.DataFrame, returns: np.ndarray) -> list[Stat]:
    """Mean bar volume and the std of 1-bar log returns per hour of day (UTC)."""
    hours = pd.to_datetime(frame["window_start"], utc=True).dt.hour.to_numpy()
    volume = pd.Series(frame["volume"].to_numpy(dtype=float)).groupby(hours).mean()
    volatility = pd.Series(returns).groupby(hours[1:]).std().dropna()
    profiles = (
        ("intraday_volume", "volume", volume),
        ("intraday_volatility", "log_return", volatility),
    )
    return [
        Stat(
            name,
            _ratio(profile),
            column,
            {"hours": [int(h) for h in profile.index], "values": profile.tolist()},
            symbol=symbol,
        )
        for name, column, profile in profiles
        if len(profile)
    ]


def _ratio(profile: pd.Series) -> float | None:
    low = float(profile.min())
    return float(profile.max()) / low if low > 0 else None


def _trend(symbol: str, starts: pd.Series, log_price: np.ndarray) -> Stat:
    """The OLS slope of the log price per day, and its R^2."""
    moments = pd.to_datetime(starts, utc=True)
    days = (moments - moments.iloc[0]).dt.total_seconds().to_numpy() / _SECONDS_PER_DAY
    if np.ptp(days) == 0:
        return Stat("trend_per_day", None, "log_price", {"r2": None}, symbol=symbol)
    slope, intercept = np.polyfit(days, log_price, 1)
    fitted = intercept + slope * days
    total = float(np.sum((log_price - log_price.mean()) ** 2))
    r2 = 1 - float(np.sum((log_price - fitted) ** 2)) / total if total > 0 else None
    return Stat("trend_per_day", float(slope), "log_price", {"r2": r2}, symbol=symbol)
