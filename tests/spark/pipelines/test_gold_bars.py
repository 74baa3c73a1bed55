"""Gold bar transforms against hand-made expectations and an independent pandas reference."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from chispa import assert_df_equality
from pyspark.sql import functions as F

from finml.pipelines.gold import affected_minutes, bars_1m, bars_daily

T0 = datetime(2024, 1, 8, 14, 30)  # UTC wall time (session time zone is UTC)
SCHEMA = (
    "trade_id string, symbol string, price double, volume double, ts timestamp, "
    "trade_date date, session string"
)


def trades(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def row(tid: str, symbol: str, price: float, volume: float, seconds: float, session="regular"):
    return (
        tid,
        symbol,
        float(price),
        float(volume),
        T0 + timedelta(seconds=seconds),
        date(2024, 1, 8),
        session,
    )


def test_bars_1m_by_hand_with_a_tie_on_time(spark) -> None:
    df = trades(
        spark,
        [
            row("b", "AAPL", 101.0, 10, 5),
            row("a", "AAPL", 100.0, 30, 5),  # same ts as "b": "a" sorts first -> open
            row("c", "AAPL", 104.0, 20, 50),
            row("d", "AAPL", 102.0, 40, 65),  # next minute
            row("e", "MSFT", 50.0, 1, 1),
        ],
    )
    got = df.transform(bars_1m).select(
        "symbol",
        "window_start",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "vwap",
        "trade_count",
        "realized_vol",
    )
    r = np.log
    expected = spark.createDataFrame(
        [
            (
                "AAPL",
                T0,
                100.0,
                104.0,
                100.0,
                104.0,
                60.0,
                (3000 + 1010 + 2080) / 60,
                3,
                float(np.sqrt(r(101 / 100) ** 2 + r(104 / 101) ** 2)),
            ),
            ("AAPL", T0 + timedelta(minutes=1), 102.0, 102.0, 102.0, 102.0, 40.0, 102.0, 1, 0.0),
            ("MSFT", T0, 50.0, 50.0, 50.0, 50.0, 1.0, 50.0, 1, 0.0),
        ],
        "symbol string, window_start timestamp, open double, high double, low double, "
        "close double, volume double, vwap double, trade_count long, realized_vol double",
    )
    assert_df_equality(
        got.orderBy("symbol", "window_start"),
        expected,
        ignore_nullable=True,
        allow_nan_equality=True,
    )


def random_trades(seed: int, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, 3 * 86400, n))
    ts = pd.Timestamp(T0) + pd.to_timedelta(np.round(seconds, 3), unit="s")
    return pd.DataFrame(
        {
            "trade_id": [f"t{i:04d}" for i in range(n)],
            "symbol": rng.choice(["AAPL", "MSFT"], n),
            "price": np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 4),
            "volume": rng.integers(1, 500, n).astype(float),
            "ts": ts,
            "trade_date": ts.date,
            "session": rng.choice(["pre", "regular", "post"], n),
        }
    )


def reference(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Bars computed independently with pandas."""
    ordered = frame.sort_values(["ts", "trade_id"])
    out = []
    for key, group in ordered.groupby(keys):
        logret = np.log(group["price"].to_numpy()[1:] / group["price"].to_numpy()[:-1])
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "open": group["price"].iloc[0],
                "close": group["price"].iloc[-1],
                "high": group["price"].max(),
                "low": group["price"].min(),
                "volume": group["volume"].sum(),
                "vwap": (group["price"] * group["volume"]).sum() / group["volume"].sum(),
                "trade_count": len(group),
                "realized_vol": float(np.sqrt((logret**2).sum())),
            }
        )
    return pd.DataFrame(out).sort_values(keys).reset_index(drop=True)


def test_bars_equal_the_pandas_reference(spark) -> None:
    frame = random_trades(7)
    df = spark.createDataFrame(frame, SCHEMA)
    minute = frame.assign(window_start=frame["ts"].dt.floor("min"))
    for got, keys, ref in (
        (
            df.transform(bars_1m),
            ["symbol", "window_start"],
            reference(minute, ["symbol", "window_start"]),
        ),
        (
            df.transform(bars_daily),
            ["symbol", "trade_date"],
            reference(frame, ["symbol", "trade_date"]),
        ),
    ):
        spark_bars = got.toPandas().sort_values(keys).reset_index(drop=True)
        assert len(spark_bars) == len(ref)
        for column in ("open", "close", "high", "low", "volume", "vwap", "realized_vol"):
            np.testing.assert_allclose(
                spark_bars[column], ref[column], rtol=0, atol=1e-9, err_msg=column
            )
        assert (spark_bars["trade_count"] == ref["trade_count"]).all()


def test_late_trade_changes_exactly_its_bar(spark) -> None:
    base = spark.createDataFrame(random_trades(3, 300), SCHEMA)
    late = trades(spark, [row("late", "AAPL", 999.0, 5, 3600 * 5 + 12)])
    before = {tuple(r) for r in base.transform(bars_1m).collect()}
    after = {tuple(r) for r in base.unionByName(late).transform(bars_1m).collect()}
    changed = {(r[0], r[1]) for r in after - before}
    assert changed == {("AAPL", T0 + timedelta(hours=5))}
    assert len(before - after) <= 1  # the old version of that bar, if it existed
    keys = [tuple(r) for r in late.transform(affected_minutes).collect()]
    assert keys == [("AAPL", T0 + timedelta(hours=5))]


def test_no_leakage_across_symbols_and_deterministic_under_shuffles(spark) -> None:
    df = spark.createDataFrame(random_trades(5), SCHEMA)
    together = df.transform(bars_daily)
    apart = (
        df.where("symbol = 'AAPL'")
        .transform(bars_daily)
        .unionByName(df.where("symbol = 'MSFT'").transform(bars_daily))
    )
    shuffled = df.repartition(7, F.rand(1)).transform(bars_daily)
    for other in (apart, shuffled):
        assert_df_equality(
            together.orderBy("symbol", "trade_date"),
            other.orderBy("symbol", "trade_date"),
            ignore_nullable=True,
        )
