"""Trade-level quantities worth watching for drift, from raw trades (pure pandas).

``trade_quantities(trades)`` turns trades (``symbol``, ``price``, ``volume`` and ``ts_ms``
epoch-ms or ``ts`` timestamp) into one row per trade with

* ``log_return`` - log price change since the previous trade of the same symbol and day,
* ``log_volume`` - log of the traded volume,
* ``gap_seconds`` - seconds since the previous trade of the same symbol and day,
* ``trade_date`` - the New York trading date (the default monitoring window),
* ``session`` - passed through when present (a categorical column).

The first trade of each symbol and day has no return or gap (NaN; ignored by the detector),
so the overnight jump never mixes into the intraday distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.errors import DataError

EXCHANGE_TZ = "America/New_York"
QUANTITIES = ("log_return", "log_volume", "gap_seconds")


def trade_quantities(trades: pd.DataFrame) -> pd.DataFrame:
    """Per-trade ``log_return``, ``log_volume``, ``gap_seconds`` and ``trade_date``.

    Raises:
        DataError: a required column is missing, or a price/volume is not positive.
    """
    time_column = "ts_ms" if "ts_ms" in trades.columns else "ts"
    missing = [c for c in ("symbol", "price", "volume", time_column) if c not in trades.columns]
    if missing:
        raise DataError(
            f"trades: expected columns {missing} (and ts_ms or ts), got {list(trades.columns)}"
        )
    if (trades["price"] <= 0).any() or (trades["volume"] <= 0).any():
        raise DataError("trades: expected positive price and volume, got a non-positive value")
    ts = (
        pd.to_datetime(trades[time_column], unit="ms", utc=True)
        if time_column == "ts_ms"
        else pd.to_datetime(trades[time_column], utc=True)
    )
    frame = pd.DataFrame(
        {
            "symbol": trades["symbol"].to_numpy(),
            "ts": ts.to_numpy(),
            "trade_date": ts.dt.tz_convert(EXCHANGE_TZ).dt.date.to_numpy(),
            "log_price": np.log(trades["price"].to_numpy(np.float64)),
            "log_volume": np.log(trades["volume"].to_numpy(np.float64)),
        }
    )
    if "session" in trades.columns:
        frame["session"] = trades["session"].to_numpy()
    frame = frame.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    same = (frame["symbol"] == frame["symbol"].shift()) & (
        frame["trade_date"] == frame["trade_date"].shift()
    )
    frame["log_return"] = frame["log_price"].diff().where(same)
    gap = frame["ts"].diff().dt.total_seconds()
    frame["gap_seconds"] = gap.where(same)
    frame["trade_date"] = pd.to_datetime(frame["trade_date"])
    return frame.drop(columns=["log_price"])
