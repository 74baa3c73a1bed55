"""Risk score per symbol and day from OHLCV bars of any frequency (pure pandas).

* Intraday bars (several per day, e.g. ``gold_bars_1m``): a jump-robust realised volatility
  of the day, ``median|r| / 0.6745 * sqrt(n * 252)`` over the close-to-close log returns
  ``r`` of the day's bars (regular session when a ``session`` column exists). The median
  ignores the isolated jumps an anomalous print causes, which would dominate a sum of
  squares; ``0.6745`` is the median of ``|N(0,1)|``.
* Daily bars (a user's CSV): the Parkinson range variance ``ln(H/L)^2 / (4 ln 2)`` averaged
  over the last ``window`` days (the day included, nothing later), annualised.

``risk_percentile`` is the expanding percentile of the score within its symbol (the share of
the symbol's days so far with a score at or below today's): point-in-time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import DataError

REQUIRED = ("symbol", "trade_date", "open", "high", "low", "close")
_MAD = 0.6744897501960817  # median of |N(0, 1)|
_YEAR = 252


def daily_risk(bars: pd.DataFrame, window: int = 5) -> pd.DataFrame:
    """One row per (symbol, trade_date): ``risk_score``, ``risk_percentile``,
    ``day_return`` (log close-to-close) and ``bars``.

    Takes bars with symbol, trade_date, open, high, low, close (and optionally a time
    column ``ts``/``window_start`` and ``session``). Raises :class:`DataError` on missing
    columns or non-positive prices.
    """
    missing = [c for c in REQUIRED if c not in bars.columns]
    if missing:
        raise DataError(f"bars: expected columns {missing}, got {list(bars.columns)}")
    if (bars[["open", "high", "low", "close"]] <= 0).any().any():
        raise DataError("bars: expected positive open/high/low/close prices, got a value <= 0")
    order = [c for c in ("symbol", "trade_date", "window_start", "ts") if c in bars.columns]
    bars = bars.sort_values(order, kind="stable").reset_index(drop=True)
    per_day = bars.groupby(["symbol", "trade_date"]).size()
    intraday = float(per_day.median()) > 1
    days = _intraday_score(bars) if intraday else _range_score(bars, window)
    days = days.sort_values(["symbol", "trade_date"], kind="stable").reset_index(drop=True)
    closes = days.groupby("symbol")["close"]
    days["day_return"] = np.log(days["close"] / closes.shift(1))
    days["risk_percentile"] = days.groupby("symbol")["risk_score"].transform(_expanding_pct)
    days["bars"] = days.set_index(["symbol", "trade_date"]).index.map(per_day).to_numpy()
    return days[["symbol", "trade_date", "risk_score", "risk_percentile", "day_return", "bars"]]


def _intraday_score(bars: pd.DataFrame) -> pd.DataFrame:
    use = bars[bars["session"] == "regular"] if "session" in bars.columns else bars
    if use.empty:
        use = bars
    r = np.log(use["close"]).groupby([use["symbol"], use["trade_date"]]).diff()
    abs_r = r.abs().groupby([use["symbol"], use["trade_date"]])
    score = abs_r.median() / _MAD * np.sqrt(abs_r.count() * _YEAR)
    close = bars.groupby(["symbol", "trade_date"])["close"].last()
    return pd.DataFrame({"risk_score": score, "close": close}).reset_index()


def _range_score(bars: pd.DataFrame, window: int) -> pd.DataFrame:
    parkinson = np.log(bars["high"] / bars["low"]) ** 2 / (4.0 * np.log(2.0))
    rolled = parkinson.groupby(bars["symbol"]).transform(
        lambda s: s.rolling(window, min_periods=1).mean()
    )
    return pd.DataFrame(
        {
            "symbol": bars["symbol"],
            "trade_date": bars["trade_date"],
            "risk_score": np.sqrt(rolled * _YEAR),
            "close": bars["close"],
        }
    )


def _expanding_pct(scores: pd.Series) -> pd.Series:
    values = scores.to_numpy()
    ranks = [(values[: i + 1] <= v).mean() for i, v in enumerate(values)]
    return pd.Series(ranks, index=scores.index)
