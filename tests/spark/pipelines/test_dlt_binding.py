"""The Lakeflow/DLT definition and the local runner read one source of truth.

``RecordingDlt`` implements the DLT decorator API the way Databricks applies it (expect_all
keeps rows, expect_all_or_drop drops failing rows, expect_all_or_fail raises) over real
Spark DataFrames, so the declared table functions run here unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finml.pipelines.dlt_binding import define_pipeline
from finml.pipelines.expectations import check, expectations_for
from finml.pipelines.trades import (
    SILVER_COLUMNS,
    SILVER_TRADES,
    bronze_trades_from_lines,
    silver_trades,
    with_ingest_metadata,
)

T = 1704724200123


class RecordingDlt:
    def __init__(self, streams: dict[str, DataFrame]) -> None:
        self.streams = streams
        self.tables: dict[str, Callable[[], DataFrame]] = {}
        self.expectations: dict[str, dict[str, dict[str, str]]] = {}

    def table(self, name: str | None = None, **_: Any) -> Callable[[Callable], Callable]:
        def register(function: Callable[[], DataFrame]) -> Callable[[], DataFrame]:
            self.tables[name or function.__name__] = function
            return function

        return register

    def _expect(self, kind: str, rules: dict[str, str]) -> Callable[[Callable], Callable]:
        def decorate(function: Callable[[], DataFrame]) -> Callable[[], DataFrame]:
            self.expectations.setdefault(function.__name__, {})[kind] = dict(rules)

            def applied() -> DataFrame:
                df = function()
                if kind == "drop":
                    for condition in rules.values():
                        df = df.where(F.coalesce(F.expr(condition), F.lit(False)))
                return df

            applied.__name__ = function.__name__
            return applied

        return decorate

    def expect_all(self, rules: dict[str, str]) -> Callable[[Callable], Callable]:
        return self._expect("warn", rules)

    def expect_all_or_drop(self, rules: dict[str, str]) -> Callable[[Callable], Callable]:
        return self._expect("drop", rules)

    def expect_all_or_fail(self, rules: dict[str, str]) -> Callable[[Callable], Callable]:
        return self._expect("fail", rules)

    def read_stream(self, name: str) -> DataFrame:
        return self.streams[name]

    def read(self, name: str) -> DataFrame:
        return self.tables[name]()


def bronze(spark) -> DataFrame:
    trades = [{"s": "AAPL", "p": 10.0 + i, "v": 1, "t": T + i * 1000, "c": []} for i in range(5)]
    lines = [
        json.dumps({"type": "trade", "data": trades}),
        json.dumps({"type": "trade", "data": trades[:2]}),  # duplicates
        json.dumps({"type": "trade", "data": [{"s": "AAPL", "p": -1, "v": 1, "t": T}]}),
        '{"type":"trade","data":[{"s":',
    ]
    df = spark.createDataFrame([(x, "f.jsonl") for x in lines], "value string, _source_file string")
    return df.transform(bronze_trades_from_lines).transform(with_ingest_metadata(0))


def test_dlt_declares_the_runner_expectations(spark) -> None:
    recorder = RecordingDlt({"bronze_trades": bronze(spark)})
    define_pipeline(recorder, spark, "/Volumes/finml_dev/markets/landing")
    assert set(recorder.tables) == {
        "bronze_trades",
        SILVER_TRADES,
        "silver_quarantine",
        "gold_bars_1m",
        "gold_bars_daily",
    }
    declared = recorder.expectations[SILVER_TRADES]
    spec = expectations_for(SILVER_TRADES)
    assert declared["warn"] == {r.name: r.condition for r in spec if r.action == "warn"}
    assert declared["drop"] == {
        r.name: r.condition for r in spec if r.action in ("drop", "quarantine")
    }
    assert "fail" not in declared  # silver has no fail rules


def test_dlt_tables_produce_what_the_local_runner_produces(spark) -> None:
    source = bronze(spark)
    recorder = RecordingDlt({"bronze_trades": source})
    define_pipeline(recorder, spark, "/landing")
    dlt_silver = recorder.read(SILVER_TRADES)
    checked = check(source.transform(silver_trades), expectations_for(SILVER_TRADES), "t")
    local = checked.valid.select(*SILVER_COLUMNS).dropDuplicates(["trade_id"])
    assert sorted(r.trade_id for r in dlt_silver.collect()) == sorted(
        r.trade_id for r in local.collect()
    )
    quarantined = recorder.read("silver_quarantine").collect()
    assert sorted(tuple(r._failed_rules) for r in quarantined) == sorted(
        tuple(r._failed_rules) for r in checked.quarantined.collect()
    )
    checked.release()
    bars = recorder.read("gold_bars_1m").orderBy("window_start").collect()
    assert [b.trade_count for b in bars] == [5]
