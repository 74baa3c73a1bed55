"""The Delta table layer's contract, on both engines (JVM delta-spark and delta-rs): every
test runs on each, in the one shared Spark session (which loads the Delta jars)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable, QueryBuilder
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from finml.errors import SchemaMismatch, TableNotFound
from finml.runtime.delta import DeltaTables, MergeSpec, Txn, make_engine, within
from finml.runtime.delta.files import STAGING_DIR

REPLACED = {"REPLACE TABLE", "CREATE OR REPLACE TABLE"}  # delta-spark's, delta-rs' name
SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("symbol", StringType()),
        StructField("price", DoubleType()),
        StructField("ts", TimestampType()),
    ]
)
T0 = datetime(2024, 1, 8, 14, 30, tzinfo=UTC)


def rows(spark, data):
    return spark.createDataFrame(
        [Row(id=i, symbol=s, price=p, ts=T0.replace(second=i % 60)) for i, s, p in data], SCHEMA
    )


def sort(df):
    return df.orderBy("id", "symbol")


def delta_rs_rows(location: str) -> list[dict]:
    """Read a table with deltalake directly (no FinML code) for an independent check."""
    reader = QueryBuilder().register("t", DeltaTable(location)).execute('SELECT * FROM "t"')
    return sorted(pa.table(reader.read_all()).to_pylist(), key=lambda r: (r["id"], r["symbol"]))


ENGINES = ("delta-rs", "delta-spark")


def require_jvm_delta(spark) -> None:
    from finml.runtime.spark import delta_classes_loadable

    if not delta_classes_loadable(spark):
        message = "no Delta jars in the session (`make jars` fetches them into .jars)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them: missing jars are a defect there
        pytest.skip(message)


@pytest.fixture(params=ENGINES)
def tables(request, config, spark) -> DeltaTables:
    """The same warehouse layout on each engine in turn."""
    if request.param == "delta-spark":
        require_jvm_delta(spark)
    engine = make_engine(request.param, spark)
    return DeltaTables(engine, config.warehouse_dir, config.catalog, config.db_schema)


def test_each_engine_is_the_one_asked_for(tables, request) -> None:
    assert tables.engine_name == request.node.callspec.params["tables"]


def test_written_table_reads_back_identically_through_spark_and_deltalake(spark, tables) -> None:
    table = tables.table("trades")
    df = rows(spark, [(1, "AAPL", 187.5), (2, "MSFT", 401.25), (3, "AAPL", None)])
    result = table.append(df, partition_by=("symbol",), metadata={"job": "test"})
    assert (result.version, result.rows, result.skipped) == (0, 3, False)
    assert_df_equality(sort(table.read()), sort(df), ignore_nullable=True)
    direct = delta_rs_rows(table.location)
    assert [(r["id"], r["symbol"], r["price"]) for r in direct] == [
        (1, "AAPL", 187.5),
        (2, "MSFT", 401.25),
        (3, "AAPL", None),
    ]
    assert direct[0]["ts"] == T0.replace(second=1)
    assert DeltaTable(table.location).metadata().partition_columns == ["symbol"]
    assert table.count() == 3
    commit = table.history()[0]
    assert commit.metadata["job"] == "test"
    assert not (Path(table.location) / STAGING_DIR).exists() or not any(
        (Path(table.location) / STAGING_DIR).iterdir()
    )


def test_file_statistics_bound_the_data_for_skipping(spark, tables) -> None:
    table = tables.table("stats")
    table.append(rows(spark, [(5, "A", 1.0), (9, "A", 2.0), (7, "B", float("nan"))]))
    actions = pa.table(DeltaTable(table.location).get_add_actions(flatten=True)).to_pylist()
    assert sum(a["num_records"] for a in actions) == 3
    for action in actions:
        stats = {k: v for k, v in action.items() if v is not None}
        if "min.id" in stats:
            assert stats["min.id"] <= stats["max.id"]
        if tables.engine_name == "delta-rs":  # Parquet drops NaN from float statistics
            assert "min.price" not in stats
    ids = [a["min.id"] for a in actions if a.get("min.id") is not None]
    assert min(ids) == 5
    # Data skipping on the stats must not drop matching rows.
    assert table.read().where("id = 9").count() == 1


def test_to_arrow_reads_only_the_rows_within_bounds_the_way_spark_does(spark, tables) -> None:
    """``to_arrow(where=within(...))``: the rows in the bounds at the asked version, the
    same predicate giving Spark the same rows; no values, no rows."""
    table = tables.table("bounded")
    table.append(rows(spark, [(i, "A", float(i)) for i in range(10)]))  # seconds 0..9
    table.append(rows(spark, [(i, "B", float(i)) for i in range(20, 30)]))
    wanted = pa.array([T0.replace(second=3), T0.replace(second=5)])
    predicate = within("ts", wanted, timedelta(seconds=1))  # seconds 3, 4 and 5
    got = table.to_arrow(where=predicate)
    assert sorted(got.column("id").to_pylist()) == [3, 4, 5]
    assert sorted(r["id"] for r in table.read().where(predicate).collect()) == [3, 4, 5]
    late = pa.array([T0.replace(second=25)])
    assert table.to_arrow(0, within("ts", late, timedelta(seconds=1))).num_rows == 0
    assert table.to_arrow(1, within("ts", late, timedelta(seconds=1))).num_rows == 1
    assert (
        table.to_arrow(where=within("ts", pa.array([], pa.timestamp("us")), timedelta())).num_rows
        == 0
    )


def test_history_lists_every_operation_in_a_valid_log(spark, tables) -> None:
    table = tables.table("ops")
    table.create(SCHEMA)
    table.append(rows(spark, [(1, "A", 1.0)]))
    table.merge(rows(spark, [(1, "A", 2.0)]), MergeSpec(keys=("id",)))
    table.overwrite(rows(spark, [(2, "B", 3.0)]))
    table.delete("id = 2")
    operations = [h.operation for h in table.history()]
    assert operations == ["DELETE", "WRITE", "MERGE", "WRITE", "CREATE TABLE"]
    assert [h.version for h in table.history()] == [4, 3, 2, 1, 0]
    log = sorted((Path(table.location) / "_delta_log").glob("*.json"))
    assert len(log) == 5
    for entry in log:  # every commit is newline-delimited JSON actions with commitInfo
        actions = [json.loads(line) for line in entry.read_text().splitlines()]
        assert any("commitInfo" in a for a in actions)


def test_idempotent_append_adds_nothing_when_retried(spark, tables) -> None:
    table = tables.table("ingest")
    batch = rows(spark, [(1, "A", 1.0), (2, "A", 2.0)])
    first = table.append(batch, txn=Txn("ingest", 0))
    retry = table.append(batch, txn=Txn("ingest", 0))
    older = table.append(batch, txn=Txn("ingest", 0))
    nxt = table.append(rows(spark, [(3, "A", 3.0)]), txn=Txn("ingest", 1))
    assert not first.skipped and retry.skipped and older.skipped and not nxt.skipped
    assert table.count() == 3
    assert table.txn_version("ingest") == 1
    assert table.txn_version("other") is None


def test_overwrite_whole_and_by_predicate(spark, tables) -> None:
    table = tables.table("bars")
    table.append(rows(spark, [(1, "A", 1.0), (2, "B", 2.0), (3, "B", 3.0)]))
    table.overwrite(rows(spark, [(4, "B", 4.0)]), predicate="symbol = 'B'")
    assert sorted(r.id for r in table.read().collect()) == [1, 4]
    table.overwrite(rows(spark, [(9, "Z", 9.0)]))
    assert [r.id for r in table.read().collect()] == [9]


def test_merge_updates_inserts_and_deletes_with_conditions(spark, tables) -> None:
    table = tables.table("upsert")
    table.append(rows(spark, [(1, "A", 1.0), (2, "A", 2.0), (3, "A", 3.0)]))
    source = rows(spark, [(1, "A", 10.0), (2, "A", 0.5), (3, "A", -1.0), (4, "A", 4.0)])
    spec = MergeSpec(
        keys=("id",),
        matched_condition="s.price > t.price",  # only raise prices
        delete_condition="s.price < 0",
    )
    result = table.merge(source, spec)
    assert (result.metrics["rows_inserted"], result.metrics["rows_updated"]) == (1, 1)
    assert result.metrics["rows_deleted"] == 1
    got = {r.id: r.price for r in table.read().collect()}
    assert got == {1: 10.0, 2: 2.0, 4: 4.0}
    table.merge(
        rows(spark, [(4, "A", 4.0)]),
        MergeSpec(keys=("id",), insert=False, delete_not_matched_by_source=True),
    )
    assert [r.id for r in table.read().collect()] == [4]


def test_time_travel_by_version_and_timestamp(spark, tables) -> None:
    table = tables.table("travel")
    table.append(rows(spark, [(1, "A", 1.0)]))
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    table.append(rows(spark, [(2, "A", 2.0)]))
    assert table.read(version=0).count() == 1
    assert table.read(timestamp=between).count() == 1
    assert table.read().count() == 2


def test_schema_evolution_adds_a_column_and_mismatch_names_it(spark, tables) -> None:
    table = tables.table("evolve")
    table.append(rows(spark, [(1, "A", 1.0)]))
    wider = rows(spark, [(2, "A", 2.0)]).withColumn("venue", F.lit("XNAS"))
    with pytest.raises(SchemaMismatch, match="'venue'"):
        table.append(wider)
    table.append(wider, schema_evolution=True)
    got = {r.id: r.venue for r in table.read().collect()}
    assert got == {1: None, 2: "XNAS"}
    bad = rows(spark, [(3, "A", 1.0)]).withColumn("price", F.lit("expensive"))
    with pytest.raises(SchemaMismatch, match="column 'price': expected double, got string"):
        table.append(bad)
    # Missing columns are filled with nulls; int widens to long.
    table.append(spark.createDataFrame([(7,)], "id int"))
    assert table.read().where("id = 7").first().symbol is None


@pytest.mark.parametrize("through", ["spark", "arrow"])
def test_one_cast_policy_widening_only_on_both_engines(spark, tables, through) -> None:
    """Spark frames and Arrow tables meet the same policy on either engine: widening casts
    pass, narrowing or lossy ones fail naming the column, and nothing is written."""
    table = tables.table(f"casts_{through}")
    table.append(rows(spark, [(1, "A", 1.0)]))

    def frame(data: pa.Table):
        return data if through == "arrow" else spark.createDataFrame(data.to_pandas())

    widening = pa.table({"id": pa.array([2], pa.int32()), "price": pa.array([2.5], pa.float32())})
    table.append(frame(widening))
    refused = {
        "id": pa.table({"id": pa.array([3.7])}),  # double into bigint: lossy
        "price": pa.table({"price": pa.array([2**60], pa.int64())}),  # bigint into double
        "symbol": pa.table({"symbol": pa.array([5], pa.int64())}),  # bigint into string
    }
    for column, data in refused.items():
        with pytest.raises(SchemaMismatch, match=f"column '{column}': expected"):
            table.append(frame(data))
    assert sorted((r.id, r.price) for r in table.read().collect()) == [(1, 1.0), (2, 2.5)]


def test_partition_values_with_special_characters_round_trip(spark, tables) -> None:
    table = tables.table("special")
    df = rows(spark, [(1, "a:b/c d", 1.0), (2, "100%", 2.0), (3, None, 3.0)])
    table.append(df, partition_by=("symbol",))
    assert_df_equality(sort(table.read()), sort(df), ignore_nullable=True)
    assert sorted((r["id"], r["symbol"]) for r in delta_rs_rows(table.location)) == [
        (1, "a:b/c d"),
        (2, "100%"),
        (3, None),
    ]


def test_arrow_writes_and_reads_need_no_spark(tables) -> None:
    table = tables.table("audit")
    table.append(pa.table({"event": ["a", "b"], "n": [1, 2]}))
    table.append(pa.table({"n": [3], "event": ["c"]}))  # column order does not matter
    assert sorted(table.to_arrow().column("event").to_pylist()) == ["a", "b", "c"]


def test_missing_table_and_vacuum_optimize(spark, tables) -> None:
    with pytest.raises(TableNotFound, match=r"finml_local\.markets\.nothing"):
        tables.table("nothing").read()
    table = tables.table("compact")
    for i in range(4):
        table.append(rows(spark, [(i, "A", float(i))]))
    metrics = table.optimize()
    assert metrics["numFilesRemoved"] >= 2
    table.vacuum(retention_hours=0)
    assert table.read().count() == 4
    assert [t.name.table for t in tables.list()] == ["compact"]


def test_read_appended_returns_only_new_commits_and_refuses_non_appends(spark, tables) -> None:
    from finml.errors import DeltaEngineError

    table = tables.table("stream")
    table.append(rows(spark, [(1, "A", 1.0)]))
    table.append(rows(spark, [(2, "A", 2.0), (3, "B", 3.0)]), partition_by=("symbol",))
    table.append(rows(spark, [(4, "B", 4.0)]))
    assert sorted(r.id for r in table.read_appended(0).collect()) == [2, 3, 4]
    assert sorted(r.id for r in table.read_appended(0, until=1).collect()) == [2, 3]
    assert table.read_appended(2).count() == 0
    assert table.read_appended(None, until=1).count() == 3
    # The same row counts from the log's statistics, without reading data
    assert [table.appended_rows(0, 2), table.appended_rows(0, 1)] == [3, 2]
    assert [table.appended_rows(2, 2), table.appended_rows(None, 1)] == [0, 3]
    table.optimize()  # dataChange=false rewrites add no rows
    assert table.read_appended(2).count() == 0
    assert table.appended_rows(2, table.version()) == 0
    table.delete("id = 1")
    with pytest.raises(DeltaEngineError, match="removed data"):
        table.read_appended(2)
    assert table.appended_rows(2, table.version()) is None  # unknown: a commit removed rows


def test_merge_with_txn_is_skipped_when_retried(spark, tables) -> None:
    table = tables.table("gold")
    spec = MergeSpec(keys=("id",))
    assert not table.merge(rows(spark, [(1, "A", 1.0)]), spec, txn=Txn("gold", 0)).skipped
    table.merge(rows(spark, [(1, "A", 5.0)]), spec, txn=Txn("gold", 1))
    retried = table.merge(rows(spark, [(1, "A", 9.0)]), spec, txn=Txn("gold", 1))
    assert retried.skipped
    assert [r.price for r in table.read().collect()] == [5.0]
    assert table.txn_version("gold") == 1


def test_replace_empties_the_table_in_one_commit_keeping_history_and_layout(spark, tables) -> None:
    table = tables.table("replaced")
    table.append(rows(spark, [(1, "A", 1.0), (2, "B", 2.0)]), partition_by=("symbol",))
    table.append(rows(spark, [(3, "A", 3.0)]))
    before = table.version()
    result = table.replace(comment="rebuilt")
    assert result.version == before + 1 == table.version()
    assert table.count() == 0 and table.read().count() == 0
    assert table.read(version=before).count() == 3  # history kept: time travel still works
    assert table.history(limit=1)[0].operation in REPLACED
    assert [f.name for f in table.schema()] == [f.name for f in SCHEMA]
    table.append(rows(spark, [(4, "C", 4.0)]))
    # Still partitioned by symbol (kept from the table), now readable by the other engine.
    assert [r["id"] for r in delta_rs_rows(table.location)] == [4]
    assert (Path(table.location) / "symbol=C").is_dir()
    assert DeltaTable(table.location).metadata().description == "rebuilt"
    # A new schema when given; a missing table without one is an error naming it.
    narrower = StructType(SCHEMA.fields[:2])
    table.replace(narrower)
    assert [f.name for f in table.schema()] == ["id", "symbol"]
    with pytest.raises(TableNotFound, match="never_created"):
        tables.table("never_created").replace()


def test_insert_only_merge_keeps_matched_rows_as_they_are(spark, tables) -> None:
    table = tables.table("keyed")
    table.append(rows(spark, [(1, "A", 1.0), (2, "B", 2.0)]))
    result = table.merge(
        rows(spark, [(2, "B", 99.0), (3, "C", 3.0)]), MergeSpec(keys=("id",), update_columns=())
    )
    assert result.metrics["rows_inserted"] == 1 and result.metrics["rows_updated"] == 0
    assert sorted((r.id, r.price) for r in table.read().collect()) == [
        (1, 1.0),
        (2, 2.0),
        (3, 3.0),
    ]


def test_an_arrow_merge_into_a_local_table_is_exactly_once_and_spark_reads_it(
    spark, tables
) -> None:
    """Rows the driver holds are merged by delta-rs on the delta-spark engine too (its
    commit says so); the txn id still skips a retried batch, and Spark reads the result."""
    table = tables.table("driver_merged")
    table.append(rows(spark, [(1, "A", 1.0), (2, "B", 2.0)]))
    spec = MergeSpec(keys=("id",), matched_condition="t.price IS DISTINCT FROM s.price")
    arrow = rows(spark, [(2, "B", 20.0), (3, "C", 3.0)]).toArrow()
    merged = table.merge(arrow, spec, txn=Txn("driver", 4), metadata={"job": "gold"})
    assert (merged.skipped, merged.metrics["rows_inserted"], merged.metrics["rows_updated"]) == (
        False,
        1,
        1,
    )
    last = DeltaTable(table.location).history(1)[0]
    assert str(last.get("clientVersion", "")).startswith("delta-rs")
    assert table.history(limit=1)[0].metadata["job"] == "gold"
    retried = table.merge(rows(spark, [(3, "C", 30.0)]).toArrow(), spec, txn=Txn("driver", 4))
    assert retried.skipped and table.version() == merged.version
    assert sorted((r.id, r.price) for r in table.read().collect()) == [
        (1, 1.0),
        (2, 20.0),
        (3, 3.0),
    ]
