from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError
from finml.monitoring.market import trade_quantities


def test_returns_and_gaps_stay_within_symbol_and_trading_day() -> None:
    ts = pd.to_datetime(
        [
            "2024-01-08 15:00:00",
            "2024-01-08 15:00:02",
            "2024-01-09 15:00:00",
            "2024-01-08 15:00:01",
        ],
        utc=True,
    )
    trades = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL", "MSFT"],
            "price": [100.0, 101.0, 99.0, 50.0],
            "volume": [10.0, 20.0, 30.0, 40.0],
            "ts_ms": ts.asi8 // 1_000_000,
            "session": ["regular"] * 4,
        }
    )
    q = trade_quantities(trades)
    aapl = q[q["symbol"] == "AAPL"].reset_index(drop=True)
    assert math.isnan(aapl.loc[0, "log_return"]) and math.isnan(aapl.loc[2, "log_return"])
    assert aapl.loc[1, "log_return"] == pytest.approx(np.log(101 / 100))
    assert aapl.loc[1, "gap_seconds"] == pytest.approx(2.0)
    assert q.loc[q["symbol"] == "MSFT", "log_return"].isna().all()
    assert list(aapl["trade_date"].dt.date.astype(str)) == [
        "2024-01-08",
        "2024-01-08",
        "2024-01-09",
    ]
    assert q["log_volume"].tolist() == pytest.approx(np.log([10, 20, 30, 40]).tolist())


def test_bad_trades_are_named() -> None:
    with pytest.raises(DataError, match="expected columns"):
        trade_quantities(pd.DataFrame({"symbol": ["A"], "price": [1.0]}))
    bad = pd.DataFrame({"symbol": ["A"], "price": [0.0], "volume": [1.0], "ts_ms": [0]})
    with pytest.raises(DataError, match="positive price and volume"):
        trade_quantities(bad)
