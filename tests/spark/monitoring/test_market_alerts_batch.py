"""batch_trades: the scored batch's trades and the lookback before them, from Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finml.monitoring.market_alerts import batch_trades


def test_batch_trades_are_the_new_ones_and_their_lookback(spark) -> None:
    t0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    rows = [
        (f"{s}{i}", s, t0 + timedelta(seconds=i), 100.0 + i) for s in ("A", "B") for i in range(6)
    ]
    trades = spark.createDataFrame(
        rows, "trade_id string, symbol string, ts timestamp, price double"
    )
    new_ids = spark.createDataFrame([("A4",), ("A5",), ("B5",), ("B5",)], "trade_id string")
    new, history = batch_trades(trades, new_ids, lookback=2)
    assert sorted(zip(new["symbol"], new["price"], strict=True)) == [
        ("A", 104.0),
        ("A", 105.0),
        ("B", 105.0),
    ]
    # the 2 trades before each symbol's first new trade
    assert sorted(zip(history["symbol"], history["price"], strict=True)) == [
        ("A", 102.0),
        ("A", 103.0),
        ("B", 103.0),
        ("B", 104.0),
    ]
    assert list(new.columns) == list(history.columns) == ["symbol", "ts", "price", "trade_id"]
