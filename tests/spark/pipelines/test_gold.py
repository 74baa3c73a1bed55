"""Gold bars: hand-made bars, a pandas reference, late trades, symbol isolation, determinism."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finml.pipelines.gold import (
    GOLD_BARS_1M_KEYS,
    GOLD_BARS_DAILY_KEYS,
    affected_days,
    affected_minutes,
    bars_1m,
    bars_daily,
)

TRADES_SCHEMA = (
    "trade_id string, symbol string, price double, volume double, ts timestamp, "
    "trade_date date, session string"
)
SILVER_SCHEMA = (
    f"{TRADES_SCHEMA}, conditions array<string>, _source_file string, _batch_id long, "
    "_ingested_at timestamp"
)
BARS_1M_SCHEMA = (
    "symbol string, window_start timestamp, window_end timestamp, trade_date date, "
    "session string, open double, high double, low double, close double, volume double, "
    "vwap double, trade_count long, realized_vol double, first_ts timestamp, last_ts timestamp"
)
BARS_DAILY_SCHEMA = (
    "symbol string, trade_date date, open double, high double, low double, close double, "
    "volume double, vwap double, trade_count long, realized_vol double, regular_open double, "
    "regular_close double, first_ts timestamp, last_ts timestamp"
)
MON, TUE = date(2024, 1, 8), date(2024, 1, 9)
BOTH = pytest.mark.parametrize(
    ("bars", "keys"), [(bars_1m, GOLD_BARS_1M_KEYS), (bars_daily, GOLD_BARS_DAILY_KEYS)]
)


@pytest.fixture(autouse=True)
def _utc_session(spark) -> None:
    # Expected timestamps here are UTC instants and pandas times are naive UTC.
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def utc(day: date, hour: int, minute: int, seconds: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(
        seconds=seconds
    )


def silver(spark, rows: list[tuple]) -> DataFrame:
    """Silver trades (full contract) from (trade_id, symbol, price, volume, ts, date, session)."""
    lineage = (["@"], "file:/landing/a.jsonl", 1, datetime(2024, 1, 10, tzinfo=UTC))
    return spark.createDataFrame([(*row, *lineage) for row in rows], SILVER_SCHEMA)


def rv(*prices: float) -> float:
    """Realised volatility of consecutive prices, by hand."""
    return math.sqrt(sum(math.log(b / a) ** 2 for a, b in pairwise(prices)))


# Mon 2024-01-08 14:29 UTC is 09:29 New York (pre-market); the regular session opens 14:30.
HAND_MADE = [
    ("a1", "AAPL", 100.0, 10.0, utc(MON, 14, 29, 30), MON, "pre"),
    ("a3", "AAPL", 101.0, 10.0, utc(MON, 14, 30, 5), MON, "regular"),
    ("a2", "AAPL", 100.0, 30.0, utc(MON, 14, 30, 5), MON, "regular"),  # ties a3; a2 is first
    ("a5", "AAPL", 103.0, 40.0, utc(MON, 14, 30, 50), MON, "regular"),  # ties a4; a5 is last
    ("a4", "AAPL", 104.0, 20.0, utc(MON, 14, 30, 50), MON, "regular"),
    ("a6", "AAPL", 102.0, 40.0, utc(MON, 14, 31, 59.5), MON, "regular"),
    ("a7", "AAPL", 105.0, 1.0, utc(TUE, 13, 0), TUE, "pre"),  # a day with no regular trade
    ("m1", "MSFT", 50.0, 5.0, utc(MON, 14, 29), MON, "pre"),
    ("m2", "MSFT", 51.0, 5.0, utc(MON, 14, 29, 40), MON, "pre"),
    ("m3", "MSFT", 49.0, 10.0, utc(MON, 14, 31), MON, "regular"),
    ("m4", "MSFT", 48.0, 2.0, utc(TUE, 0, 30), MON, "post"),  # Tue UTC = Mon 19:30 New York
]


def test_bars_1m_by_hand_with_ties_on_time(spark) -> None:
    got = silver(spark, HAND_MADE).transform(bars_1m).orderBy(*GOLD_BARS_1M_KEYS)
    m29, m30, m31 = utc(MON, 14, 29), utc(MON, 14, 30), utc(MON, 14, 31)
    tue13, tue0 = utc(TUE, 13, 0), utc(TUE, 0, 30)
    minute = timedelta(minutes=1)
    # fmt: off
    expected = [
        ("AAPL", m29, m30, MON, "pre", 100.0, 100.0, 100.0, 100.0, 10.0, 100.0, 1, 0.0,
         utc(MON, 14, 29, 30), utc(MON, 14, 29, 30)),
        ("AAPL", m30, m31, MON, "regular", 100.0, 104.0, 100.0, 103.0, 100.0, 10210 / 100, 4,
         rv(100, 101, 104, 103), utc(MON, 14, 30, 5), utc(MON, 14, 30, 50)),
        ("AAPL", m31, m31 + minute, MON, "regular", 102.0, 102.0, 102.0, 102.0, 40.0, 102.0, 1,
         0.0, utc(MON, 14, 31, 59.5), utc(MON, 14, 31, 59.5)),
        ("AAPL", tue13, tue13 + minute, TUE, "pre", 105.0, 105.0, 105.0, 105.0, 1.0, 105.0, 1,
         0.0, tue13, tue13),
        ("MSFT", m29, m30, MON, "pre", 50.0, 51.0, 50.0, 51.0, 10.0, 505 / 10, 2, rv(50, 51),
         m29, utc(MON, 14, 29, 40)),
        ("MSFT", m31, m31 + minute, MON, "regular", 49.0, 49.0, 49.0, 49.0, 10.0, 49.0, 1, 0.0,
         m31, m31),
        ("MSFT", tue0, tue0 + minute, MON, "post", 48.0, 48.0, 48.0, 48.0, 2.0, 48.0, 1, 0.0,
         tue0, tue0),
    ]
    # fmt: on
    want = spark.createDataFrame(expected, BARS_1M_SCHEMA)
    assert_approx_df_equality(got, want, 1e-12, ignore_nullable=True)


def test_bars_daily_by_hand_with_regular_session_and_new_york_dates(spark) -> None:
    got = silver(spark, HAND_MADE).transform(bars_daily).orderBy(*GOLD_BARS_DAILY_KEYS)
    tue13 = utc(TUE, 13, 0)
    # fmt: off
    expected = [
        ("AAPL", MON, 100.0, 104.0, 100.0, 102.0, 150.0, 15290 / 150, 6,
         rv(100, 100, 101, 104, 103, 102), 100.0, 102.0, utc(MON, 14, 29, 30),
         utc(MON, 14, 31, 59.5)),
        ("AAPL", TUE, 105.0, 105.0, 105.0, 105.0, 1.0, 105.0, 1, 0.0, None, None, tue13, tue13),
        ("MSFT", MON, 50.0, 51.0, 48.0, 48.0, 22.0, 1091 / 22, 4, rv(50, 51, 49, 48), 49.0, 49.0,
         utc(MON, 14, 29), utc(TUE, 0, 30)),
    ]
    # fmt: on
    want = spark.createDataFrame(expected, BARS_DAILY_SCHEMA)
    assert_approx_df_equality(got, want, 1e-12, ignore_nullable=True)


def random_trades(seed: int, n: int = 500) -> pd.DataFrame:
    """Seeded trades in three bursts (several per bar, ties on ts, ids not in time order).

    The second burst straddles 20:00 New York (post -> closed) on a UTC date one ahead of
    its New York trade_date. Volumes are fractional so float sums depend on their order.
    """
    rng = np.random.default_rng(seed)
    starts = pd.to_datetime(["2024-01-08 14:25", "2024-01-09 00:50", "2024-01-09 14:28"])
    offsets = pd.to_timedelta(rng.integers(0, 20 * 60, n), unit="s")  # whole seconds -> ties
    ts = pd.Series(starts[rng.integers(0, len(starts), n)] + offsets)
    local = ts.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    minutes = local.dt.hour * 60 + local.dt.minute
    symbol = rng.choice(["AAPL", "MSFT"], n)
    base = np.where(symbol == "AAPL", 185.0, 370.0)
    return pd.DataFrame(
        {
            "trade_id": [f"t{k:04d}" for k in rng.permutation(n)],
            "symbol": symbol,
            "price": np.round(base * np.exp(rng.normal(0, 0.004, n)), 2),
            "volume": np.round(rng.uniform(0.5, 500, n), 3),
            "ts": ts,
            "trade_date": local.dt.date,
            "session": np.select(
                [minutes < 240, minutes < 570, minutes < 960, minutes < 1200],
                ["closed", "pre", "regular", "post"],
                "closed",
            ),
        }
    )


def reference_bars(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The bars recomputed independently with pandas/numpy, sorted by ``keys``."""
    rows = []
    for key, bar in frame.sort_values(["ts", "trade_id"]).groupby(keys, sort=True):
        price, volume = bar["price"].to_numpy(), bar["volume"].to_numpy()
        regular = bar.loc[bar["session"] == "regular", "price"]
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "open": price[0],
                "high": price.max(),
                "low": price.min(),
                "close": price[-1],
                "volume": volume.sum(),
                "vwap": (price * volume).sum() / volume.sum(),
                "trade_count": len(bar),
                "realized_vol": float(np.sqrt((np.diff(np.log(price)) ** 2).sum())),
                "trade_date": bar["trade_date"].iloc[0],
                "session": bar["session"].iloc[0],
                "regular_open": regular.iloc[0] if len(regular) else np.nan,
                "regular_close": regular.iloc[-1] if len(regular) else np.nan,
                "first_ts": bar["ts"].iloc[0],
                "last_ts": bar["ts"].iloc[-1],
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("bars", "keys", "exact"),
    [
        (bars_1m, GOLD_BARS_1M_KEYS, ["trade_date", "session"]),
        (bars_daily, GOLD_BARS_DAILY_KEYS, ["regular_open", "regular_close"]),
    ],
)
def test_bars_equal_the_pandas_reference(spark, bars, keys, exact) -> None:
    frame = random_trades(7)
    frame["window_start"] = frame["ts"].dt.floor("min")
    ref = reference_bars(frame, list(keys))
    got = spark.createDataFrame(frame.drop(columns="window_start"), TRADES_SCHEMA)
    got = got.transform(bars).toPandas().sort_values(list(keys)).reset_index(drop=True)
    assert (ref["trade_count"] > 2).mean() > 0.5  # most bars have several returns
    same = [*keys, "open", "high", "low", "close", "trade_count", "first_ts", "last_ts", *exact]
    pd.testing.assert_frame_equal(got[same], ref[same], check_dtype=False, check_exact=True)
    close = ["volume", "vwap", "realized_vol"]
    pd.testing.assert_frame_equal(got[close], ref[close], check_exact=False, rtol=0, atol=1e-9)


def semi_join(trades: DataFrame, keys: DataFrame) -> DataFrame:
    """The runner's selection: every trade of the bars named by ``keys``."""
    if "window_start" not in keys.columns:
        return trades.join(keys, keys.columns, "left_semi")
    keyed = trades.withColumn("window_start", F.date_trunc("minute", "ts"))
    return keyed.join(keys, keys.columns, "left_semi").drop("window_start")


@pytest.mark.parametrize(
    ("bars", "affected", "key", "key_schema"),
    [
        (
            bars_1m,
            affected_minutes,
            ("AAPL", utc(MON, 14, 31)),
            "symbol string, window_start timestamp",
        ),
        (bars_daily, affected_days, ("AAPL", MON), "symbol string, trade_date date"),
    ],
)
def test_a_late_trade_changes_exactly_its_bar(spark, bars, affected, key, key_schema) -> None:
    base = spark.createDataFrame(random_trades(3), TRADES_SCHEMA)
    late_row = ("late", "AAPL", 999.0, 5.0, utc(MON, 14, 31, 30.25), MON, "regular")
    late = spark.createDataFrame([late_row], TRADES_SCHEMA)
    touched = late.transform(affected)
    assert_df_equality(touched, spark.createDataFrame([key], key_schema), ignore_nullable=True)

    everything = base.unionByName(late)
    before, after = base.transform(bars).cache(), everything.transform(bars).cache()
    names = touched.columns
    old, new = (b.join(touched, names, "left_semi").collect() for b in (before, after))
    assert len(old) == len(new) == 1 and new[0]["trade_count"] == old[0]["trade_count"] + 1
    assert new[0]["high"] == 999.0
    assert_df_equality(
        before.join(touched, names, "left_anti").orderBy(*names),
        after.join(touched, names, "left_anti").orderBy(*names),
    )
    # Recomputing only the touched bar from its trades gives the full run's row, bit for bit.
    assert_df_equality(
        semi_join(everything, touched).transform(bars),
        after.join(touched, names, "left_semi"),
    )
    before.unpersist()
    after.unpersist()


@BOTH
def test_no_leakage_across_interleaved_symbols(spark, bars, keys) -> None:
    df = spark.createDataFrame(random_trades(5), TRADES_SCHEMA)
    together = df.transform(bars).orderBy(*keys)
    apart = [df.where(F.col("symbol") == s).transform(bars) for s in ("AAPL", "MSFT")]
    assert_df_equality(together, apart[0].unionByName(apart[1]).orderBy(*keys))


@BOTH
def test_bars_are_identical_however_the_input_is_shuffled(spark, bars, keys) -> None:
    frame = random_trades(11)
    df = spark.createDataFrame(frame, TRADES_SCHEMA)
    baseline = df.transform(bars).orderBy(*keys)
    for variant in (
        df.repartition(7, F.rand(1)),
        df.orderBy(F.rand(2)).coalesce(1),
        spark.createDataFrame(frame.iloc[::-1], TRADES_SCHEMA).repartition(3),
    ):
        assert_df_equality(baseline, variant.transform(bars).orderBy(*keys))


@BOTH
def test_empty_input_gives_no_bars_and_the_contract_columns(spark, bars, keys) -> None:
    got = spark.createDataFrame([], SILVER_SCHEMA).transform(bars)
    schema = BARS_1M_SCHEMA if bars is bars_1m else BARS_DAILY_SCHEMA
    assert got.count() == 0
    assert got.schema.simpleString() == spark.createDataFrame([], schema).schema.simpleString()
    assert got.columns[: len(keys)] == list(keys)
