"""``batch_context``: a batch's trades plus the lookback before them, from a bounded read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

from finml.features.batch import CONTEXT_COLUMNS, batch_context

DAY1, DAY2, DAY3 = date(2024, 1, 9), date(2024, 1, 10), date(2024, 1, 11)


def trades(days: dict[str, list[date]], per_day: int = 5) -> pa.Table:
    """``per_day`` trades per symbol and day, two of them at the same instant."""
    rows = []
    for symbol, dates in days.items():
        for day in dates:
            start = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
            for i in range(per_day):
                ts = start + timedelta(seconds=max(i - 1, 0))  # trades 0 and 1 tie
                rows.append({"symbol": symbol, "ts": ts, "trade_id": f"{symbol}{day:%d}{i}",
                             "price": 10.0 + i, "volume": 1.0, "trade_date": day,
                             "session": "regular"})  # fmt: skip
    schema = pa.schema([("symbol", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                        ("trade_id", pa.string()), ("price", pa.float64()),
                        ("volume", pa.float64()), ("trade_date", pa.date32()),
                        ("session", pa.string())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def test_the_batch_days_and_the_latest_earlier_trades_of_each_symbol() -> None:
    rows = trades({"A": [DAY1, DAY2, DAY3], "B": [DAY1, DAY2, DAY3], "C": [DAY2]})
    context = batch_context(rows, {"A": DAY3, "B": DAY2}, lookback_rows=3)
    assert context is not None and context.column_names == list(CONTEXT_COLUMNS)
    ids = sorted(context.column("trade_id").to_pylist())
    # A: day 3 and the last 3 of day 2; B: days 2 and 3 and the last 3 of day 1; no C.
    assert ids == sorted(
        [f"A11{i}" for i in range(5)] + ["A102", "A103", "A104"]
        + [f"B{d}{i}" for d in (10, 11) for i in range(5)] + ["B092", "B093", "B094"]
    )  # fmt: skip


def test_too_few_earlier_trades_asks_for_a_longer_read_unless_the_read_is_everything() -> None:
    rows = trades({"A": [DAY2, DAY3]})
    assert batch_context(rows, {"A": DAY3}, lookback_rows=6) is None  # 5 earlier trades
    whole = batch_context(rows, {"A": DAY3}, lookback_rows=6, complete=True)
    assert whole is not None and whole.num_rows == 10
    assert batch_context(rows, {"A": DAY2}, lookback_rows=1) is None  # nothing earlier
