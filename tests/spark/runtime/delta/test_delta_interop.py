"""Cross-engine interop: a table written by either engine (JVM delta-spark, delta-rs) is
read, merged into, time-travelled and vacuumed by the other, both ways, across a
checkpoint and with ``txn`` actions -- and a hand-made log replay reads the same rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from delta_log_replay import canonical, read, replay
from finml.runtime.delta import DeltaTables, MergeSpec, Txn, make_engine

SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("symbol", StringType()),
        StructField("price", DoubleType()),
    ]
)
APP = "interop-job"
COMMITS = 7  # more than twice the checkpoint interval below


def _tables(engine: str, spark, config) -> DeltaTables:
    if engine == "delta-spark":
        from test_delta_tables import require_jvm_delta

        require_jvm_delta(spark)
    return DeltaTables(make_engine(engine, spark), config.warehouse_dir, "c", "s")


def _rows(spark, ids: range, price: float = 1.0):
    return spark.createDataFrame([(i, "AB"[i % 2], price + i) for i in ids], SCHEMA)


def _spark_rows(spark, location: str, version: int | None = None) -> list[tuple]:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return canonical(reader.load(location).toArrow().to_pylist())


def _checkpoint_every(spark, engine: str, location: str, commits: int) -> None:
    if engine == "delta-spark":
        spark.sql(
            f"ALTER TABLE delta.`{location}` "
            f"SET TBLPROPERTIES ('delta.checkpointInterval' = '{commits}')"
        )
    else:
        DeltaTable(location).alter.set_table_properties({"delta.checkpointInterval": str(commits)})


@pytest.mark.parametrize(
    ("writer", "other"), [("delta-rs", "delta-spark"), ("delta-spark", "delta-rs")]
)
def test_either_engine_continues_the_others_table(spark, config, writer, other) -> None:
    first = _tables(writer, spark, config).table("interop")
    # 7 idempotent batches, partitioned, with a checkpoint every 3 commits
    for batch in range(COMMITS):
        first.append(
            _rows(spark, range(batch * 10, batch * 10 + 10)),
            txn=Txn(APP, batch),
            partition_by=("symbol",),
            metadata={"batch": str(batch)},
        )
        if batch == 0:
            _checkpoint_every(spark, writer, first.location, 3)
    if writer == "delta-rs":
        DeltaTable(first.location).create_checkpoint()
    log = Path(first.location) / "_delta_log"
    assert list(log.glob("*.checkpoint.parquet")), "expected a checkpoint in the log"
    written = replay(first.location)
    assert written.txns == {APP: COMMITS - 1}
    assert written.checkpoint is not None

    # The other engine: same rows (three readers), same txn, skips the retried batch
    second = _tables(other, spark, config).table("interop")
    expected = canonical(read(first.location))
    assert len(expected) == COMMITS * 10
    assert canonical(DeltaTable(first.location).to_pyarrow_table().to_pylist()) == expected
    assert _spark_rows(spark, first.location) == expected
    assert second.txn_version(APP) == COMMITS - 1
    before = second.version()
    retried = second.append(_rows(spark, range(0, 10)), txn=Txn(APP, COMMITS - 1))
    assert retried.skipped and second.version() == before

    # ...merges into it with a txn (a retried merge is skipped), time-travels and vacuums
    source = _rows(spark, range(65, 75), price=100.0)
    merged = second.merge(source, MergeSpec(keys=("id",)), txn=Txn("interop-merge", 0))
    assert not merged.skipped
    assert second.merge(source, MergeSpec(keys=("id",)), txn=Txn("interop-merge", 0)).skipped
    assert second.count() == 75
    assert second.read(version=before).count() == 70
    assert {r.price for r in second.read().where("id = 69").collect()} == {169.0}
    second.delete("id < 50")
    second.optimize()
    removed = second.vacuum(retention_hours=0)
    assert removed, "vacuum removed no file"

    # ...and the first engine, and the replay, see what the other wrote
    after = canonical(read(first.location))
    assert len(after) == 25
    assert _spark_rows(spark, first.location) == after
    assert canonical(first.to_arrow().to_pylist()) == after
    assert first.txn_version("interop-merge") == 0
    assert replay(first.location).txns == {APP: COMMITS - 1, "interop-merge": 0}
    assert "MERGE" in {h.operation for h in first.history()}
    assert first.append(pa.table({"id": [999], "symbol": ["A"], "price": [1.5]})).version > 0
    assert second.count() == 26


NESTED = StructType.fromJson(
    {
        "type": "struct",
        "fields": [
            {"name": "id", "type": "long", "nullable": True, "metadata": {}},
            {"name": "name", "type": "string", "nullable": True, "metadata": {}},
            {"name": "ts", "type": "timestamp", "nullable": True, "metadata": {}},
            {"name": "tags", "type": {"type": "array", "elementType": "string",
                                      "containsNull": True}, "nullable": True, "metadata": {}},
            {"name": "attrs", "type": {"type": "map", "keyType": "string",
                                       "valueType": "string", "valueContainsNull": True},
             "nullable": True, "metadata": {}},
            {"name": "window", "type": {"type": "struct", "fields": [
                {"name": "start", "type": "timestamp", "nullable": True, "metadata": {}},
                {"name": "label", "type": "string", "nullable": True, "metadata": {}}]},
             "nullable": True, "metadata": {}},
            {"name": "blob", "type": "binary", "nullable": True, "metadata": {}},
        ],
    }
)  # fmt: skip


def test_the_jvm_engines_arrow_reads_equal_sparks_rows_and_types(spark, config) -> None:
    """A local table's ``to_arrow`` on delta-spark is served by delta-rs: it must hand out
    what Spark's ``toArrow`` does -- the same rows, the same Arrow types (no view or large
    layouts, nested ones included) -- at the latest version and at an older one."""
    from datetime import UTC, datetime

    tables = _tables("delta-spark", spark, config)
    table = tables.table("arrow_reads")
    when = datetime(2024, 1, 2, 14, 30, 0, 123456, tzinfo=UTC)
    rows = [
        (1, "a", when, ["x", None], {"k": "v"}, (when, "w"), b"\x00\x01"),
        (2, None, None, None, None, None, None),
    ]
    table.append(spark.createDataFrame(rows, NESTED))
    table.append(spark.createDataFrame([(3, "c", when, [], {}, (None, None), b"")], NESTED))
    for version in (None, 0):
        ours = table.to_arrow(version)
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        theirs = reader.load(table.location).toArrow()
        assert ours.schema.equals(theirs.schema), (ours.schema, theirs.schema)
        assert canonical(ours.to_pylist()) == canonical(theirs.to_pylist())
    assert table.to_arrow().num_rows == 3


def _writers(location: str) -> list[str]:
    """Which engine made each commit of the table, oldest first."""
    return [
        str(entry.get("engineInfo") or entry.get("clientVersion")).split("/")[0].split(":")[0]
        for entry in reversed(DeltaTable(location).history())
    ]


def test_the_jvm_engines_driver_appends_commit_through_delta_rs_once(spark, config) -> None:
    """An Arrow append (rows on the driver: audits, quality rows) to a local table that
    delta-spark made is committed by delta-rs, exactly once per txn, and Spark reads it."""
    tables = _tables("delta-spark", spark, config)
    table = tables.table("driver_appends")
    table.append(_rows(spark, range(2)))
    extra = pa.table({"id": [10, 11], "symbol": ["A", "B"], "price": [1.5, 2.5]})
    first = table.append(extra, txn=Txn(APP, 0))
    retried = table.append(extra, txn=Txn(APP, 0))
    assert (first.skipped, first.rows, retried.skipped) == (False, 2, True)
    assert _writers(table.location) == ["Apache-Spark", "delta-rs"]
    assert table.txn_version(APP) == 0
    assert sorted(dict(r)["id"] for r in _spark_rows(spark, table.location)) == [0, 1, 10, 11]


def test_a_driver_append_delta_rs_cannot_write_falls_back_to_spark(spark, config) -> None:
    tables = _tables("delta-spark", spark, config)
    table = tables.table("driver_appends_features")
    table.append(_rows(spark, range(2)))
    spark.sql(
        f"ALTER TABLE delta.`{table.location}` SET TBLPROPERTIES "
        "('delta.enableDeletionVectors' = 'true', 'delta.enableRowTracking' = 'true')"
    )
    table.append(pa.table({"id": [5], "symbol": ["A"], "price": [9.0]}), txn=Txn(APP, 0))
    assert _writers(table.location)[-1] == "Apache-Spark"
    assert sorted(dict(r)["id"] for r in _spark_rows(spark, table.location)) == [0, 1, 5]
    assert table.txn_version(APP) == 0


@pytest.mark.parametrize("engine", ["delta-spark", "delta-rs"])
def test_every_created_table_checkpoints_every_10_commits_whichever_engine_appends(
    spark, config, engine
) -> None:
    """Tables record ``delta.checkpointInterval`` 10 however they were created, so the
    appends delta-rs makes to them (its own default is 100) checkpoint as Spark's do, and
    each ``WriteResult`` names the version its commit made."""
    tables = _tables(engine, spark, config)
    made = {
        "by_create": lambda t: t.create(SCHEMA),
        "by_spark_append": lambda t: t.append(_rows(spark, range(2))),
        "by_arrow_append": lambda t: t.append(pa.Table.from_pylist(
            [{"id": 1, "symbol": "A", "price": 1.0}], schema=pa.schema(
                [("id", pa.int64()), ("symbol", pa.string()), ("price", pa.float64())]))),
    }  # fmt: skip
    for name, make in made.items():
        table = tables.table(f"interval_{name}")
        make(table)
        assert DeltaTable(table.location).metadata().configuration == {
            "delta.checkpointInterval": "10"
        }, name
    table = tables.table("interval_by_arrow_append")
    versions = [
        table.append(pa.table({"id": [i], "symbol": ["B"], "price": [2.0]})).version
        for i in range(10)
    ]
    assert versions == list(range(1, 11))
    log = Path(table.location) / "_delta_log"
    assert sorted(p.name for p in log.glob("*.checkpoint.parquet")) == [
        "00000000000000000009.checkpoint.parquet"
    ]
    assert DeltaTable(table.location).version() == 10
