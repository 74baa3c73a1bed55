"""The embedded market simulator: trades with a hidden regime process and labelled anomalies.

A market-wide hidden regime (Normal / Stress / Crisis) follows a daily Markov chain and sets
each day's drift, volatility, trade intensity, volume and spread. Trade times follow a
U-shaped intraday intensity over the pre-market, regular and after-hours sessions of New
York. Anomalies (price spike, volume burst, fat finger, stale print, trade burst) are
injected with labels. Everything is vectorised numpy and deterministic by seed; the ground
truth (regime per symbol and minute, anomaly flag and type per trade) is returned separately
from the trades and never enters model inputs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from finml.config_simulator import (
    ANOMALY_TYPES,
    REGIMES,
    BadRecordRates,
    DriftScenario,
    RegimeParams,
    SimulatorConfig,
)
from finml.sources.landing_writer import LandingManifest, write_landing
from finml.sources.sim_result import SimulationResult

__all__ = [
    "BadRecordRates",
    "DriftScenario",
    "LandingManifest",
    "RegimeParams",
    "SimulationResult",
    "SimulatorConfig",
    "last_closed_day",
    "simulate",
    "trading_dates",
    "write_landing",
]

EXCHANGE_TZ = "America/New_York"
_MINUTES = np.arange(4 * 60, 20 * 60)  # local minutes 04:00 .. 19:59
_REGULAR = (9 * 60 + 30, 16 * 60)
_TRADING_YEAR = 252


def _minute_weights() -> np.ndarray:
    """Intraday trade intensity: U-shaped in the regular session, thin outside it."""
    regular = (_REGULAR[0] <= _MINUTES) & (_REGULAR[1] > _MINUTES)
    position = (_MINUTES - _REGULAR[0]) / (_REGULAR[1] - _REGULAR[0])
    weights = np.where(regular, 1.0 + 10.0 * (position - 0.5) ** 2, 0.06)
    return weights / weights.sum()


def trading_dates(start: date, days: int) -> list[date]:
    """The simulator's ``days`` trading days (weekdays) from ``start``."""
    return [d.date() for d in pd.DatetimeIndex(_busdays(start, days).astype("datetime64[ns]"))]


def last_closed_day(as_of: datetime) -> date:
    """The latest New-York trading date whose extended session (04:00-20:00) had ended at
    ``as_of``: the day before, until 20:00 New York time."""
    local = as_of.astimezone(ZoneInfo(EXCHANGE_TZ))
    return (local - timedelta(hours=20)).date()


def _busdays(start: date, days: int) -> np.ndarray:
    return np.busday_offset(np.datetime64(start, "D"), np.arange(days), roll="forward")


def _trading_days(config: SimulatorConfig) -> tuple[list[date], np.ndarray]:
    """Weekdays from ``start_date`` and their New-York midnights as UTC epoch ms."""
    days = _busdays(config.start_date, config.days)
    local = pd.DatetimeIndex(days.astype("datetime64[ns]")).tz_localize(EXCHANGE_TZ)
    return [d.date() for d in local], local.asi8 // 1_000_000


def _regime_path(config: SimulatorConfig, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(np.asarray(config.transition), axis=1)
    path = np.empty(config.days, dtype=np.int8)
    path[0] = REGIMES.index(config.initial_regime)
    draws = rng.random(config.days)
    for day in range(1, config.days):
        path[day] = min(int(np.searchsorted(cumulative[path[day - 1]], draws[day])), 2)
    return path


def _day_params(config: SimulatorConfig, path: np.ndarray) -> dict[str, np.ndarray]:
    """Per-day drift, volatility, intensity, volume and spread (drift scenario applied)."""
    params = [config.regimes[name] for name in REGIMES]
    table = {
        f: np.array([getattr(p, f) for p in params])[path]
        for f in ("drift", "volatility", "intensity", "volume", "spread_bps")
    }
    if config.drift is not None:
        shifted = np.arange(config.days) >= config.drift.start_day
        table["volatility"] = np.where(
            shifted, table["volatility"] * config.drift.vol_multiplier, table["volatility"]
        )
        table["volume"] = np.where(
            shifted, table["volume"] * config.drift.volume_multiplier, table["volume"]
        )
    return table


def _symbol_trades(
    config: SimulatorConfig,
    rng: np.random.Generator,
    index: int,
    midnights: np.ndarray,
    day: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """One symbol's trades over every day: time, price, volume, session, day index."""
    counts = rng.poisson(config.trades_per_day * day["intensity"])
    counts = np.maximum(counts, 2)
    day_idx = np.repeat(np.arange(config.days), counts)
    minute = rng.choice(_MINUTES, size=day_idx.size, p=_minute_weights())
    t = midnights[day_idx] + minute * 60_000 + rng.integers(0, 60_000, day_idx.size)
    order = np.argsort(t, kind="stable")
    t, minute, day_idx = t[order], minute[order], day_idx[order]
    per_trade_sd = day["volatility"][day_idx] / np.sqrt(_TRADING_YEAR * counts[day_idx])
    mean = day["drift"][day_idx] / (_TRADING_YEAR * counts[day_idx])
    returns = rng.normal(mean, per_trade_sd)
    first = np.r_[True, day_idx[1:] != day_idx[:-1]]
    overnight = rng.normal(0.0, 0.3 * day["volatility"] / np.sqrt(_TRADING_YEAR))
    returns[first] += overnight[day_idx[first]]
    mid = config.start_price(config.symbols[index], index) * np.exp(np.cumsum(returns))
    side = rng.choice(np.array([-1.0, 1.0]), size=t.size)
    price = mid * (1 + side * day["spread_bps"][day_idx] / 2e4)
    volume = np.maximum(
        1.0, np.round(rng.lognormal(np.log(100), 0.9, t.size) * day["volume"][day_idx])
    )
    session = np.where(minute < _REGULAR[0], 0, np.where(minute < _REGULAR[1], 1, 2))
    return {"t": t, "price": price, "volume": volume, "session": session, "day": day_idx}


def _inject_anomalies(
    config: SimulatorConfig, rng: np.random.Generator, trades: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Label and apply anomalies in place; trade bursts add clusters of trades."""
    n = trades["t"].size
    kind = np.full(n, -1, dtype=np.int8)
    count = rng.binomial(n, config.anomaly_rate)
    chosen = rng.choice(np.arange(300, n), size=min(count, max(n - 300, 0)), replace=False)
    weights = np.array([config.anomaly_weights.get(k, 0.0) for k in ANOMALY_TYPES])
    kinds = rng.choice(len(ANOMALY_TYPES), size=chosen.size, p=weights / weights.sum())
    kind[chosen] = kinds
    price, volume = trades["price"], trades["volume"]
    spike = chosen[kinds == 0]
    price[spike] *= 1 + rng.choice([-1.0, 1.0], spike.size) * rng.uniform(0.03, 0.08, spike.size)
    burst = chosen[kinds == 1]
    volume[burst] = np.round(volume[burst] * rng.uniform(20, 100, burst.size))
    finger = chosen[kinds == 2]
    price[finger] *= rng.choice([10.0, 0.1], finger.size)
    stale = chosen[kinds == 3]
    price[stale] = price[stale - rng.integers(150, 300, stale.size)]
    trades["kind"] = kind
    return _add_bursts(rng, trades, chosen[kinds == 4])


def _add_bursts(
    rng: np.random.Generator, trades: dict[str, np.ndarray], seeds: np.ndarray
) -> dict[str, np.ndarray]:
    """A trade burst: 8-20 extra prints within one second of the seed trade."""
    sizes = rng.integers(8, 21, seeds.size)
    source = np.repeat(seeds, sizes)
    extra = {
        "t": trades["t"][source] + rng.integers(1, 1000, source.size),
        "price": trades["price"][source] * (1 + rng.normal(0, 2e-4, source.size)),
        "volume": np.maximum(1.0, np.round(rng.lognormal(np.log(50), 0.5, source.size))),
        "session": trades["session"][source],
        "day": trades["day"][source],
        "kind": np.full(source.size, 4, dtype=np.int8),
    }
    merged = {k: np.concatenate([trades[k], extra[k]]) for k in trades}
    order = np.argsort(merged["t"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _unique_prints(frame: pd.DataFrame) -> pd.DataFrame:
    """Nudge times by 1 ms until (symbol, ts, price, volume) is unique."""
    for _ in range(100):
        dup = frame.duplicated(["symbol", "ts_ms", "price", "volume"])
        if not dup.any():
            return frame.sort_values(["ts_ms", "symbol"], kind="stable").reset_index(drop=True)
        frame.loc[dup, "ts_ms"] += 1
    raise RuntimeError("could not make trade prints unique")  # pragma: no cover


def simulate(config: SimulatorConfig) -> SimulationResult:
    """Generate the market described by ``config`` (same config, same result)."""
    rng = np.random.default_rng(config.seed)
    dates, midnights = _trading_days(config)
    path = _regime_path(config, rng)
    day = _day_params(config, path)
    frames = []
    for index, symbol in enumerate(config.symbols):
        trades = _inject_anomalies(config, rng, _symbol_trades(config, rng, index, midnights, day))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "price": np.round(trades["price"], 4),
                    "volume": trades["volume"],
                    "ts_ms": trades["t"].astype(np.int64),
                    "session_id": trades["session"],
                    "day": trades["day"],
                    "kind": trades["kind"],
                }
            )
        )
    frame = _unique_prints(pd.concat(frames, ignore_index=True))
    return _result(frame, dates, path)


def _result(frame: pd.DataFrame, dates: list[date], path: np.ndarray) -> SimulationResult:
    sessions = np.array(["pre", "regular", "post"])
    conditions = (["1", "12"], ["1"], ["1", "12"])
    trades = pd.DataFrame(
        {
            "symbol": frame["symbol"],
            "price": frame["price"],
            "volume": frame["volume"],
            "ts_ms": frame["ts_ms"],
            "conditions": [conditions[s] for s in frame["session_id"].to_numpy()],
            "session": sessions[frame["session_id"].to_numpy()],
        }
    )
    kinds = frame["kind"].to_numpy()
    labels = np.array([*ANOMALY_TYPES, None], dtype=object)
    truth_trades = pd.DataFrame(
        {
            "symbol": frame["symbol"],
            "ts_ms": frame["ts_ms"],
            "price": frame["price"],
            "volume": frame["volume"],
            "is_anomaly": (kinds >= 0).astype(np.int8),
            "anomaly_type": labels[np.where(kinds >= 0, kinds, len(ANOMALY_TYPES))],
        }
    )
    minutes = frame.assign(minute_ts_ms=frame["ts_ms"] // 60_000 * 60_000)
    minutes = minutes.drop_duplicates(["symbol", "minute_ts_ms"])[["symbol", "minute_ts_ms", "day"]]
    regime_ids = path[minutes["day"].to_numpy()].astype(np.int8)
    truth_regimes = pd.DataFrame(
        {
            "symbol": minutes["symbol"].to_numpy(),
            "minute_ts_ms": minutes["minute_ts_ms"].to_numpy(),
            "regime": np.array(REGIMES)[regime_ids],
            "regime_id": regime_ids,
        }
    )
    return SimulationResult(
        trades,
        truth_trades,
        truth_regimes,
        _daily_bars(frame, dates),
        dates,
        path,
        frame["day"].to_numpy(),
    )


def _daily_bars(frame: pd.DataFrame, dates: list[date]) -> pd.DataFrame:
    grouped = frame.groupby(["symbol", "day"], sort=True)
    bars = grouped.agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("volume", "sum"),
    ).reset_index()
    bars.insert(1, "date", [dates[d] for d in bars.pop("day")])
    return bars
