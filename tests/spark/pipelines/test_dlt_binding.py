"""The DLT/SDP binding and the local runner read one contract per table.

``Recorder`` implements the declarative API the way the engines apply it, over real Spark
DataFrames: in Databricks mode it has ``expect_all*`` (keep / drop / fail, as Databricks
applies them); in open-source mode it has none, like ``pyspark.pipelines``, and the binding
must enforce the rules itself. Each declared dataset is materialized in declaration order
as a temporary view, which is what ``spark.read.table`` in the next table function reads.
The real ``spark-pipelines`` run is in tests/integration/pipelines/test_declarative_pipeline.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from finml.errors import ExpectationFailed
from finml.pipelines import contracts
from finml.pipelines.dlt_binding import define_pipeline
from finml.pipelines.expectations import check, enforce
from finml.pipelines.gold import bars_1m
from finml.pipelines.ingest import bronze_trades_from_parquet_files
from finml.pipelines.trades import (
    SILVER_COLUMNS,
    bronze_trades_from_lines,
    deduplicate,
    typed_trades,
    with_ingest_metadata,
    with_trade_identity,
)

T = 1704724200123  # 2024-01-08 14:30:00.123 UTC


class Recorder:
    def __init__(self, spark, *, databricks: bool) -> None:
        self.spark = spark
        self.declared: dict[str, dict[str, Any]] = {}
        if databricks:
            self.expect_all = self._expect("warn")
            self.expect_all_or_drop = self._expect("drop")
            self.expect_all_or_fail = self._expect("fail")
            self.view = self._register("view")
        else:
            self.materialized_view = self._register("materialized_view")
            self.temporary_view = self._register("temporary_view")
        self.table = self._register("table")

    def _register(self, kind: str) -> Callable[..., Callable]:
        def decorator(**options: Any) -> Callable[[Callable], None]:
            def register(function: Callable[[], DataFrame]) -> None:
                rules = getattr(function, "rules", {})
                self.declared[options["name"]] = {"kind": kind, "fn": function, **options}
                self.declared[options["name"]]["rules"] = rules

            return register

        return decorator

    def _expect(self, action: str) -> Callable[[dict[str, str]], Callable]:
        def decorator(rules: dict[str, str]) -> Callable[[Callable], Callable]:
            def decorate(function: Callable[[], DataFrame]) -> Callable[[], DataFrame]:
                def applied() -> DataFrame:
                    df = function()
                    passed = [F.coalesce(F.expr(c), F.lit(False)) for c in rules.values()]
                    if action == "drop":
                        for condition in passed:
                            df = df.where(condition)
                    if action == "fail" and any(df.where(~c).count() for c in passed):
                        raise ExpectationFailed(f"expect_all_or_fail {sorted(rules)} violated")
                    return df

                applied.__name__ = function.__name__
                applied.rules = {**getattr(function, "rules", {}), action: dict(rules)}  # type: ignore[attr-defined]
                return applied

            return decorate

        return decorator

    def materialize(self, skip: tuple[str, ...] = ()) -> dict[str, DataFrame]:
        """Compute every declared dataset in order, each readable by name afterwards."""
        done = {}
        for name, spec in self.declared.items():
            if name in skip:
                continue
            df = spec["fn"]().localCheckpoint()
            df.createOrReplaceTempView(name)
            done[name] = df
        return done


def trade(p: Any = 10.0, v: Any = 1, t: int = T, s: str = "AAPL") -> dict[str, Any]:
    return {"s": s, "p": p, "v": v, "t": t, "c": ["1"]}


def landing(tmp_path: Path) -> Path:
    """Trades in JSON lines and Parquet: valid ones, a duplicate across files, bad records
    and an unreadable Parquet file; two vendor bars, one inconsistent."""
    root = tmp_path / "landing"
    (root / "trades").mkdir(parents=True)
    (root / "bars").mkdir()
    good = [trade(10.0 + i, t=T + i * 1000) for i in range(5)]
    first = [
        json.dumps({"type": "trade", "data": good}),
        json.dumps({"type": "trade", "data": [trade(-1.0)]}),  # price_positive
        json.dumps({"type": "trade", "data": [trade(10.0, t=T // 1000)]}),  # seconds
        '{"type":"trade","data":[{"s":',  # malformed
    ]
    second = [json.dumps({"type": "trade", "data": [good[0], trade(12.5, t=T + 60_000)]})]
    parquet = pa.table({"s": ["MSFT"], "p": [20.0], "v": [3], "t": [T], "c": [["1"]]})
    pq.write_table(parquet, root / "trades" / "trades_3.parquet")
    (root / "trades" / "broken.parquet").write_bytes(b"PAR1 not really")  # unreadable_file
    (root / "trades" / "trades_1.jsonl").write_text("\n".join(first) + "\n")
    (root / "trades" / "trades_2.jsonl").write_text("\n".join(second) + "\n")
    (root / "bars" / "daily_AAPL.csv").write_text(
        "timestamp,open,high,low,close,volume\n2024-01-05,10,11,9,10.5,100\n2024-01-06,1,1,2,1,1\n"
    )
    return root


def test_databricks_mode_declares_each_contract_with_its_expectations(spark, tmp_path) -> None:
    recorder = Recorder(spark, databricks=True)
    define_pipeline(recorder, spark, str(landing(tmp_path)))
    names = {c.name for c in contracts.MEDALLION}
    views = {"silver_trades_candidates", "silver_bars_candidates"}
    assert set(recorder.declared) == names | views
    for contract in contracts.MEDALLION:
        declared = recorder.declared[contract.name]
        assert declared["comment"] == contract.comment
        assert "format" not in declared  # Databricks: Delta is the only format
    assert recorder.declared["bronze_trades"]["kind"] == "table"  # Auto Loader stream
    silver = recorder.declared["silver_trades_candidates"]["rules"]
    rules = contracts.SILVER_TRADES.expectations_for()
    assert silver["warn"] == {r.name: r.condition for r in rules if r.action == "warn"}
    assert silver["drop"] == {
        r.name: r.condition for r in rules if r.action in ("drop", "quarantine")
    }
    assert "fail" not in silver  # silver has no fail rules
    ohlc = {"ohlc_consistent": contracts.GOLD_BARS_1M.expectations[0].condition}
    assert recorder.declared["gold_bars_1m"]["rules"] == {"fail": ohlc}
    assert recorder.declared["gold_bars_daily"]["rules"] == {"fail": ohlc}


def test_open_source_mode_declares_delta_tables_and_no_expectations(spark, tmp_path) -> None:
    recorder = Recorder(spark, databricks=False)
    define_pipeline(recorder, spark, str(landing(tmp_path)))
    for contract in contracts.MEDALLION:
        declared = recorder.declared[contract.name]
        assert declared["format"] == "delta", contract.name  # never SDP's Parquet default
        assert declared["kind"] == "materialized_view"  # no Auto Loader: a batch read
        assert declared["rules"] == {}
    assert recorder.declared["silver_trades_candidates"]["kind"] == "temporary_view"


def runner_silver(spark, root: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """Silver trade ids and quarantined rule lists as the runner's transforms make them."""
    lines = (
        spark.read.option("pathGlobFilter", "*.jsonl")
        .text(str(root / "trades"))
        .select("value", F.col("_metadata.file_path").alias("_source_file"))
    )
    files = spark.read.format("binaryFile").option("pathGlobFilter", "*.parquet")
    parquet = bronze_trades_from_parquet_files(files.load(str(root / "trades")))
    bronze = bronze_trades_from_lines(lines).unionByName(parquet).transform(with_ingest_metadata(0))
    checked = check(typed_trades(bronze), contracts.SILVER_TRADES.expectations_for(), "t")
    ids = [r.trade_id for r in deduplicate(with_trade_identity(checked.valid)).collect()]
    rules = [tuple(r._failed_rules) for r in checked.quarantined.collect()]
    checked.release()
    return sorted(ids), sorted(rules)


@pytest.mark.parametrize("databricks", [False, True], ids=["open-source", "databricks"])
def test_binding_rows_equal_the_runner_transforms(spark, tmp_path, databricks: bool) -> None:
    root = landing(tmp_path)
    recorder = Recorder(spark, databricks=databricks)
    define_pipeline(recorder, spark, str(root))
    skip: tuple[str, ...] = ()
    if databricks:  # Auto Loader is Databricks-only: bronze comes from the open-source path
        oss = Recorder(spark, databricks=False)
        define_pipeline(oss, spark, str(root))
        for name in ("bronze_trades", "bronze_bars"):
            oss.declared[name]["fn"]().localCheckpoint().createOrReplaceTempView(name)
        skip = ("bronze_trades", "bronze_bars")
    got = recorder.materialize(skip)
    ids, rules = runner_silver(spark, root)
    assert sorted(r.trade_id for r in got["silver_trades"].collect()) == ids
    assert len(ids) == 7  # 5 + 1 new (the cross-file duplicate once) + 1 from Parquet
    assert sorted(tuple(r._failed_rules) for r in got["silver_quarantine"].collect()) == rules
    assert ("price_positive",) in rules and ("timestamp_in_milliseconds",) in rules
    assert sum("parsed_record" in r for r in rules) == 2  # malformed line, unreadable file
    assert got["silver_trades"].columns == list(SILVER_COLUMNS)
    assert got["silver_quarantine"].columns == list(contracts.SILVER_QUARANTINE.column_names)
    minutes = got["gold_bars_1m"].orderBy("symbol", "window_start").collect()
    assert [(r.symbol, r.trade_count) for r in minutes] == [("AAPL", 5), ("AAPL", 1), ("MSFT", 1)]
    days = got["gold_bars_daily"].collect()
    daily = {(r.symbol, r.trade_date.isoformat(), r.source) for r in days}
    # the vendor's 01-05 bar fills a day without trades; its 01-06 bar has high < low
    assert daily == {("AAPL", "2024-01-08", "trades"), ("MSFT", "2024-01-08", "trades"),
                     ("AAPL", "2024-01-05", "vendor")}  # fmt: skip
    bad_bar = got["silver_bars_quarantine"].collect()
    assert [tuple(r._failed_rules) for r in bad_bar] == [("high_low_consistent",)]


def bad_silver(spark) -> DataFrame:
    """Silver rows whose bar breaks gold's ohlc_consistent (negative volume)."""
    rows = [(f"id{i}", "AAPL", 10.0, -5.0, i) for i in range(2)]
    schema = "trade_id string, symbol string, price double, volume double, i int"
    df = spark.createDataFrame(rows, schema)
    ts = F.timestamp_millis(F.lit(T) + F.col("i"))
    return df.select(
        "trade_id", "symbol", "price", "volume", ts.alias("ts"),
        F.to_date(ts).alias("trade_date"), F.lit("regular").alias("session"),
    )  # fmt: skip


def test_gold_fail_rule_stops_the_runner_dlt_and_sdp(spark, tmp_path) -> None:
    bars = bad_silver(spark).transform(bars_1m)
    rules = contracts.GOLD_BARS_1M.expectations_for()
    # the local runner: counted before anything is written
    with pytest.raises(ExpectationFailed, match=r"gold_bars_1m: .*ohlc_consistent \(1 rows\)"):
        check(bars, rules, "gold_bars_1m")
    # open-source SDP: raised while the table is computed, naming the bar
    with pytest.raises(Exception, match=r"ohlc_consistent with action 'fail' violated by symbol"):
        enforce(bars, rules, "gold_bars_1m", ("symbol", "window_start")).collect()
    # both declarative modes, through the binding itself
    for databricks in (False, True):
        recorder = Recorder(spark, databricks=databricks)
        define_pipeline(recorder, spark, str(landing(tmp_path / str(databricks))))
        bad_silver(spark).createOrReplaceTempView("silver_trades")
        with pytest.raises(Exception, match="ohlc_consistent"):
            recorder.declared["gold_bars_1m"]["fn"]().collect()
    # and a good bar passes the same lazy guard
    good = bad_silver(spark).withColumn("volume", F.lit(5.0)).transform(bars_1m)
    assert enforce(good, rules, "gold_bars_1m").count() == 1
