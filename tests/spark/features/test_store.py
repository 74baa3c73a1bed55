"""Feature store: MERGE upserts, point-in-time training sets, latest lookups, split, labels."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from pyspark.sql import functions as F

from finml.errors import DataError
from finml.features import feature_columns
from finml.features.labels import rule_labels, truth_labels
from finml.features.split import time_split
from finml.features.store import AVAILABLE_AT, VERSION_COLUMN, FeatureStoreManager

SCHEMA = "symbol string, ts timestamp, trade_id string, _trade_date date, f1 double, f2 double"


def ts(second: int) -> datetime:
    return datetime(2024, 1, 9, 15, 0, second)


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def labels(spark, ids):
    data = [("AAA", ts(i), f"t{i}", i % 2) for i in ids]
    return spark.createDataFrame(data, "symbol string, ts timestamp, trade_id string, label int")


def now() -> datetime:
    time.sleep(0.05)  # commit timestamps have millisecond resolution
    moment = datetime.now(UTC)
    time.sleep(0.05)
    return moment


def test_training_set_as_of_never_sees_late_updates(spark, tables) -> None:
    store = FeatureStoreManager(tables)
    d = date(2024, 1, 9)
    store.upsert(rows(spark, [("AAA", ts(i), f"t{i}", d, float(i), 1.0) for i in (1, 2, 3)]))
    as_of = now()
    # Late-arriving data: trade 2 is corrected and trade 4 arrives after as_of.
    store.upsert(
        rows(spark, [("AAA", ts(2), "t2", d, 99.0, 1.0), ("AAA", ts(4), "t4", d, 4.0, 1.0)])
    )
    past = store.create_training_set(labels(spark, [1, 2, 3, 4]), as_of=as_of)
    got = {r["trade_id"]: r for r in past.df.collect()}
    assert sorted(got) == ["t1", "t2", "t3"]
    assert got["t2"]["f1"] == 2.0  # the value that existed at as_of, not the correction
    assert all(r[AVAILABLE_AT] <= as_of.replace(tzinfo=None) for r in got.values())
    assert past.feature_table_version == 0
    assert {r[VERSION_COLUMN] for r in got.values()} == {0}
    latest = {
        r["trade_id"]: r["f1"]
        for r in store.create_training_set(labels(spark, [2, 4])).df.collect()
    }
    assert latest == {"t2": 99.0, "t4": 4.0}
    with pytest.raises(DataError, match="expected a commit at or before"):
        store.create_training_set(labels(spark, [1]), as_of=datetime(2000, 1, 1, tzinfo=UTC))


def test_unchanged_rows_keep_their_availability_time(spark, tables) -> None:
    store = FeatureStoreManager(tables)
    d = date(2024, 1, 9)
    first = datetime(2024, 5, 1, tzinfo=UTC)
    store.upsert(rows(spark, [("AAA", ts(1), "t1", d, 1.0, 1.0)]), available_at=first)
    store.upsert(
        rows(spark, [("AAA", ts(1), "t1", d, 1.0, 1.0), ("AAA", ts(2), "t2", d, 2.0, None)]),
        available_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    stamps = {r["trade_id"]: r[AVAILABLE_AT] for r in store.table.read().collect()}
    assert stamps["t1"] == first.replace(tzinfo=None)
    assert stamps["t2"] == datetime(2024, 6, 1)
    assert store.table.count() == 2
    # A new feature column evolves the schema and rewrites every row.
    wider = rows(spark, [("AAA", ts(1), "t1", d, 1.0, 1.0)]).withColumn("f3", F.lit(3.0))
    store.upsert(wider, available_at=datetime(2024, 7, 1, tzinfo=UTC))
    got = {r["trade_id"]: (r["f3"], r[AVAILABLE_AT]) for r in store.table.read().collect()}
    assert got == {"t1": (3.0, datetime(2024, 7, 1)), "t2": (None, datetime(2024, 6, 1))}


def test_as_of_join_without_trade_id_and_latest_lookup(spark, tables) -> None:
    store = FeatureStoreManager(tables)
    d = date(2024, 1, 9)
    store.upsert(
        rows(
            spark,
            [
                ("AAA", ts(1), "t1", d, 1.0, 0.0),
                ("AAA", ts(5), "t5", d, 5.0, 0.0),
                ("BBB", ts(3), "b3", d, 30.0, 0.0),
            ],
        )
    )
    wanted = spark.createDataFrame(
        [("AAA", ts(0), 0), ("AAA", ts(4), 1), ("AAA", ts(5), 0), ("BBB", ts(9), 1)],
        "symbol string, ts timestamp, label int",
    )
    joined = store.create_training_set(wanted).df
    got = {(r["symbol"], r["ts"].second): r["f1"] for r in joined.collect()}
    assert got == {("AAA", 4): 1.0, ("AAA", 5): 5.0, ("BBB", 9): 30.0}
    latest = {r["symbol"]: r["trade_id"] for r in store.get_latest_features().collect()}
    assert latest == {"AAA": "t5", "BBB": "b3"}
    assert store.get_latest_features(["BBB"]).count() == 1
    assert feature_columns(joined) == ["f1", "f2"]


def test_time_split_puts_later_days_in_test(spark) -> None:
    data = [("AAA", ts(0), f"t{i}", date(2024, 1, 1 + i), 0.0, 0.0) for i in range(10)]
    split = time_split(rows(spark, data), 0.2)
    assert split.cutoff == date(2024, 1, 9)
    assert (split.train_days, split.test_days) == (8, 2)
    train_max = split.train.agg(F.max("_trade_date")).first()[0]
    assert train_max < split.test.agg(F.min("_trade_date")).first()[0]
    with pytest.raises(DataError, match="expected at least 2 trading days, got 1"):
        time_split(rows(spark, data[:1]), 0.2)


def test_truth_labels_survive_duplicate_prints(spark) -> None:
    trades = spark.createDataFrame(
        [
            ("AAA", ts(1), "a", 10.0, 5.0),
            ("AAA", ts(1), "b", 10.0, 5.0),  # same print, other conditions -> other trade_id
            ("AAA", ts(2), "c", 11.0, 5.0),
            ("AAA", ts(3), "d", 12.0, 5.0),  # no truth row: unlabelled
        ],
        "symbol string, ts timestamp, trade_id string, price double, volume double",
    )
    ms = int(ts(1).replace(tzinfo=UTC).timestamp() * 1000)
    truth = spark.createDataFrame(
        [("AAA", ms, 10.0, 5.0, 1), ("AAA", ms, 10.0, 5.0, 0), ("AAA", ms + 1000, 11.0, 5.0, 0)],
        "symbol string, ts_ms long, price double, volume double, is_anomaly byte",
    )
    got = {r["trade_id"]: r["label"] for r in trades.transform(truth_labels(truth)).collect()}
    assert got == {"a": 1, "b": 1, "c": 0}


def test_rule_labels_flag_large_z_scores(spark) -> None:
    feats = spark.createDataFrame(
        [
            ("AAA", ts(1), "a", 7.0, 0.0),
            ("AAA", ts(2), "b", None, -8.0),
            ("AAA", ts(3), "c", 1.0, None),
        ],
        "symbol string, ts timestamp, trade_id string, return_z double, volume_z double",
    )
    got = {r["trade_id"]: r["label"] for r in feats.transform(rule_labels(6.0)).collect()}
    assert got == {"a": 1, "b": 1, "c": 0}
