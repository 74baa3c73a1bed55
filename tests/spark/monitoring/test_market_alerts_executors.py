"""spark_extreme_moves (per symbol on the executors) answers exactly like the driver path:
batch_trades collected, then extreme_moves over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from finml.monitoring.alerts import AlertManager
from finml.monitoring.market_alerts import (
    batch_trades,
    driver_extreme_moves,
    extreme_moves,
    spark_extreme_moves,
)
from finml.monitoring.settings import WatchSettings
from finml.monitoring.watch import LiveAnomalyWatch

SETTINGS = WatchSettings(zscore=3.0, lookback=40)


def _trades(seed: int) -> pd.DataFrame:
    """Three symbols over three UTC days; sessions cross midnight UTC (22:00 -> 02:00), so a
    day boundary falls inside a burst of trades; heavy-tailed returns make many candidates
    per (symbol, day), and two trades of a symbol share a timestamp."""
    g = np.random.default_rng(seed)
    frames = []
    for symbol, n in (("AAPL", 700), ("MSFT", 450), ("ZZ", 90)):
        start = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
        steps = g.integers(1, 40, n).cumsum()
        ts = [start + timedelta(seconds=int(s)) + timedelta(days=int(s) // 9000) for s in steps]
        ts[5] = ts[4]  # a time tie: trade_id orders the lookback
        returns = g.standard_t(2.5, n) * 1e-3
        frames.append(
            pd.DataFrame(
                {
                    "trade_id": [f"{symbol}-{i:05d}" for i in range(n)],
                    "symbol": symbol,
                    "ts": ts,
                    "price": 50 * np.exp(np.cumsum(returns)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _comparable(alerts) -> list[tuple]:
    return [
        (
            a.key,
            a.alert_type,
            a.severity,
            a.title,
            a.message,
            a.created_at,
            sorted(a.details.items()),
        )
        for a in alerts
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_executor_moves_equal_the_driver_computation(spark, tables, seed) -> None:
    frame = _trades(seed)
    trades = spark.createDataFrame(
        frame, "trade_id string, symbol string, ts timestamp, price double"
    )
    silver = tables.table("silver_trades")
    silver.append(trades)
    # the batch: the last 60 % of AAPL and MSFT (history warms them up), all of ZZ (none)
    g = np.random.default_rng(seed)
    cut = {"AAPL": 280, "MSFT": 180, "ZZ": 0}
    new = frame[
        [int(t.split("-")[1]) >= cut[s] for s, t in zip(frame.symbol, frame.trade_id, strict=True)]
    ]
    ids = new["trade_id"].tolist()
    g.shuffle(ids)
    new_ids = spark.createDataFrame([(i,) for i in ids + ids[:5]], "trade_id string")

    batch, history = batch_trades(trades, new_ids, SETTINGS.lookback)
    watch = LiveAnomalyWatch(AlertManager(), None, settings=SETTINGS)
    expected = extreme_moves(watch, batch, history)
    found = spark_extreme_moves(trades, new_ids, SETTINGS)
    keys = frame[frame.trade_id.isin(ids)][["symbol", "ts", "trade_id"]]
    # what a small batch takes: silver's rows read by delta-rs with the bounds pushed down
    reads: list[str] = []
    on_driver = driver_extreme_moves(
        lambda where: reads.append(where) or silver.to_arrow(where=where).to_pandas(),
        keys,
        SETTINGS,
    )

    assert len(history) == 2 * SETTINGS.lookback  # AAPL and MSFT warmed up, ZZ has none
    assert len({a.key.rsplit(":", 1)[1] for a in expected}) >= 3  # several UTC days
    assert {a.details["symbol"] for a in expected} == {"AAPL", "MSFT", "ZZ"}
    # Every path orders trades at the same instant by trade id, so all three agree exactly.
    assert _comparable(found) == _comparable(expected) == _comparable(on_driver)
    assert [a.details["zscore"] for a in found] == [a.details["zscore"] for a in expected]
    # the batch's time range, then the lookback within 3 days, 30 days, then all of silver
    # (ZZ has no trade before the batch)
    assert [" >= '" in w for w in reads] == [True, True, True, False], reads


def test_history_changes_the_answer_and_both_paths_see_it(spark) -> None:
    """Without the lookback history the first returns of the batch could not alert: the
    executor path must use the history rows, not only the new trades."""
    frame = _trades(4)
    aapl_rows = frame.index[frame.symbol == "AAPL"]
    frame.loc[aapl_rows[305:], "price"] *= 1.5  # a jump 5 trades into the batch
    trades = spark.createDataFrame(
        frame, "trade_id string, symbol string, ts timestamp, price double"
    )
    aapl = frame[frame.symbol == "AAPL"].iloc[300:]
    new_ids = spark.createDataFrame([(i,) for i in aapl.trade_id], "trade_id string")
    cold = extreme_moves(
        LiveAnomalyWatch(AlertManager(), None, settings=SETTINGS), aapl[["symbol", "ts", "price"]]
    )
    found = spark_extreme_moves(trades, new_ids, SETTINGS)
    batch, history = batch_trades(trades, new_ids, SETTINGS.lookback)
    warm = extreme_moves(LiveAnomalyWatch(AlertManager(), None, settings=SETTINGS), batch, history)
    assert _comparable(found) == _comparable(warm)
    jump = frame.loc[aapl_rows[305], "ts"].to_pydatetime()
    assert jump in {a.created_at for a in found}  # the warmed-up watch sees the jump
    assert jump not in {a.created_at for a in cold}  # a cold one has < 20 returns there


def test_no_candidates_is_an_empty_list(spark) -> None:
    t0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    rows = [(f"A{i}", "A", t0 + timedelta(seconds=i), 100.0 + 0.01 * i) for i in range(30)]
    trades = spark.createDataFrame(
        rows, "trade_id string, symbol string, ts timestamp, price double"
    )
    new_ids = spark.createDataFrame([("A29",)], "trade_id string")
    assert spark_extreme_moves(trades, new_ids, SETTINGS) == []
