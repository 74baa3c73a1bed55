"""A deliberately simple, loop-based pandas reference for the trade features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from finml.features.settings import FeatureSettings

SESSIONS = {"pre": 0.0, "regular": 1.0, "post": 2.0, "closed": 3.0}


def _std(values: list[float], ddof: int) -> float:
    clean = [v for v in values if not math.isnan(v)]
    if len(clean) < 1 + ddof:
        return math.nan
    return float(np.std(clean, ddof=ddof))


def _ema(values: np.ndarray, i: int, span: int, horizon: int) -> float:
    alpha = 2.0 / (span + 1.0)
    window = values[max(0, i - horizon * span + 1) : i + 1]
    weights = (1 - alpha) ** np.arange(len(window))[::-1]
    return float((weights * window).sum() / weights.sum())


def _z(values: np.ndarray, i: int, window: int) -> float:
    prev = [v for v in values[max(0, i - window) : i] if not math.isnan(v)]
    sd = float(np.std(prev, ddof=1)) if len(prev) >= 2 else math.nan
    if math.isnan(values[i]) or math.isnan(sd) or sd == 0:
        return math.nan
    return (values[i] - float(np.mean(prev))) / sd


def _vwap_dist(p: np.ndarray, v: np.ndarray, idx: list[int], i: int) -> float:
    if not idx:
        return math.nan
    return math.log(p[i] / (sum(p[j] * v[j] for j in idx) / sum(v[j] for j in idx)))


def reference_features(trades: pd.DataFrame, s: FeatureSettings) -> pd.DataFrame:
    """One row per trade with the same columns as ``trade_features`` (NaN for null)."""
    out = []
    for _symbol, g in trades.sort_values(["symbol", "ts", "trade_id"]).groupby("symbol"):
        out.append(_one_symbol(g.reset_index(drop=True), s))
    return pd.concat(out, ignore_index=True)


def _one_symbol(g: pd.DataFrame, s: FeatureSettings) -> pd.DataFrame:
    p, v = g["price"].to_numpy(float), g["volume"].to_numpy(float)
    ts = g["ts"].to_numpy("datetime64[us]").astype(np.int64)
    n = len(g)
    r = np.array([math.nan] + [math.log(p[i] / p[i - 1]) for i in range(1, n)])
    d = np.array([math.nan] + [p[i] - p[i - 1] for i in range(1, n)])
    lv = np.log(v)
    fast = np.array([_ema(p, i, s.macd_fast, s.ema_horizon) for i in range(n)])
    slow = np.array([_ema(p, i, s.macd_slow, s.ema_horizon) for i in range(n)])
    macd = (fast - slow) / slow
    signal = np.array([_ema(macd, i, s.macd_signal, s.ema_horizon) for i in range(n)])
    local = g["ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    rows = []
    for i in range(n):
        row: dict[str, object] = {"symbol": g["symbol"][i], "trade_id": g["trade_id"][i]}
        row["log_return"] = r[i]
        for w in s.vol_windows:
            row[f"vol_{w}"] = _std(list(r[max(0, i - w + 1) : i + 1]), 1)
        window = [x for x in d[max(0, i - s.rsi_period + 1) : i + 1] if not math.isnan(x)]
        gains = sum(max(x, 0.0) for x in window)
        losses = sum(max(-x, 0.0) for x in window)
        row["rsi"] = 100 * gains / (gains + losses) if window and gains + losses > 0 else math.nan
        row["macd"], row["macd_signal"] = macd[i], signal[i]
        row["macd_hist"] = macd[i] - signal[i]
        bb = p[max(0, i - s.bollinger_period + 1) : i + 1]
        sd, k = float(np.std(bb)), s.bollinger_width
        row["bb_pct_b"] = (p[i] - bb.mean() + k * sd) / (2 * k * sd) if sd > 0 else math.nan
        row["return_z"] = _z(r, i, s.zscore_window)
        row["log_volume"] = lv[i]
        row["volume_z"] = _z(lv, i, s.zscore_window)
        row["gap_s"] = (ts[i] - ts[i - 1]) / 1e6 if i else math.nan
        row["trades_1s"] = float(sum(ts[j] >= ts[i] - 1_000_000 for j in range(i + 1)))
        row["trades_60s"] = float(sum(ts[j] >= ts[i] - 60_000_000 for j in range(i + 1)))
        same_day = [j for j in range(i) if g["trade_date"][j] == g["trade_date"][i]]
        row["vwap_dist_day"] = _vwap_dist(p, v, same_day, i)
        row["vwap_dist_20"] = _vwap_dist(p, v, list(range(max(0, i - s.range_window), i)), i)
        rw = p[max(0, i - s.range_window + 1) : i + 1]
        row["spread_proxy"] = (rw.max() - rw.min()) / rw.mean()
        earlier = p[max(0, i - s.stale_lookback) : i]
        row["stale_repeat"] = 1.0 if (earlier == p[i]).any() else 0.0
        t = local[i]
        seconds = t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6
        row["time_of_day"] = seconds / 86400
        row["session_code"] = SESSIONS.get(g["session"][i], math.nan)
        rows.append(row)
    return pd.DataFrame(rows)
