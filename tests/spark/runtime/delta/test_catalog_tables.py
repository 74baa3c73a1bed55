"""Tables addressed by catalog name (as Unity Catalog tables are on Databricks), on the JVM
engine: registered in ``spark_catalog`` with Change Data Feed on, and read incrementally
through it -- the engine cannot list a catalog table's files the way it does a path's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pyspark.sql import Row
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from finml.errors import DeltaEngineError
from finml.runtime.delta import DeltaTables, MergeSpec, Txn, make_engine
from finml.runtime.spark import delta_classes_loadable

REPLACED = {"REPLACE TABLE", "CREATE OR REPLACE TABLE"}  # delta-spark's, delta-rs' name
SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("symbol", StringType()),
        StructField("price", DoubleType()),
    ]
)


def rows(spark, data):
    return spark.createDataFrame([Row(id=i, symbol=s, price=p) for i, s, p in data], SCHEMA)


def ids(df) -> list[int]:
    return sorted(r.id for r in df.collect())


@pytest.fixture
def catalog_tables(spark, tmp_path) -> Iterator[DeltaTables]:
    """Tables of a fresh ``spark_catalog`` schema located in ``tmp_path`` (no warehouse:
    every table is addressed by its three-part name, as on Databricks)."""
    if not delta_classes_loadable(spark):
        message = "no Delta jars in the session (`make jars` fetches them into .jars)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    schema = f"finml_catalog_{tmp_path.name.lower().replace('-', '_')}"[:60]
    spark.sql(f"CREATE SCHEMA spark_catalog.{schema} LOCATION '{tmp_path / 'schema'}'")
    try:
        yield DeltaTables(make_engine("delta-spark", spark), None, "spark_catalog", schema)
    finally:
        spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


def test_a_catalog_table_is_registered_with_change_data_feed(spark, catalog_tables) -> None:
    table = catalog_tables.table("trades")
    assert table.location == f"spark_catalog.{catalog_tables.schema}.trades"
    table.append(rows(spark, [(1, "A", 1.0)]), txn=Txn("ingest", 0))
    assert spark.catalog.tableExists(table.location)
    detail = spark.sql(f"DESCRIBE DETAIL {table.name.sql}").first()
    assert detail["properties"]["delta.enableChangeDataFeed"] == "true"
    assert detail["location"].endswith("/schema/trades")
    assert [t.name.table for t in catalog_tables.list()] == ["trades"]
    # created first (CREATE TABLE), then appended to: Spark Connect reports observed
    # metrics of an append, not of a CREATE TABLE AS SELECT
    assert [h.operation for h in table.history()] == ["WRITE", "CREATE TABLE"]
    again = table.append(rows(spark, [(1, "A", 1.0)]), txn=Txn("ingest", 0))
    assert again.skipped and table.count() == 1 and table.version() == 1


def test_a_catalog_table_is_read_incrementally_through_change_data_feed(
    spark, catalog_tables
) -> None:
    table = catalog_tables.table("stream")
    assert table.create(SCHEMA)  # version 0
    table.append(rows(spark, [(1, "A", 1.0)]))
    table.append(rows(spark, [(2, "A", 2.0), (3, "B", 3.0)]))
    table.append(rows(spark, [(4, "B", 4.0)]))
    assert table.version() == 3
    assert ids(table.read_appended(0)) == [1, 2, 3, 4]
    assert ids(table.read_appended(1)) == [2, 3, 4]
    assert ids(table.read_appended(1, until=2)) == [2, 3]
    assert ids(table.read_appended(2, until=3)) == [4]
    assert table.read_appended(3).count() == 0
    assert ids(table.read_appended(None, until=2)) == [1, 2, 3]
    assert table.read_appended(1).columns == ["id", "symbol", "price"]
    table.optimize()  # a rewrite without data change adds no rows
    assert table.version() == 4
    assert ids(table.read_appended(3)) == []


def test_incremental_reads_of_a_catalog_table_refuse_changed_rows(spark, catalog_tables) -> None:
    table = catalog_tables.table("changed")
    table.append(rows(spark, [(1, "A", 1.0), (2, "A", 2.0)]))  # versions 0 (create), 1
    table.merge(rows(spark, [(2, "A", 9.0), (3, "B", 3.0)]), MergeSpec(keys=("id",)))
    with pytest.raises(DeltaEngineError, match=r"changed: commit 2 updated or deleted rows"):
        table.read_appended(0)
    table.append(rows(spark, [(4, "B", 4.0)]))
    assert ids(table.read_appended(2)) == [4]  # past the merge, appends read again


def test_replacing_a_catalog_table_keeps_it_registered_with_its_history(
    spark, catalog_tables
) -> None:
    # What a full refresh does to a Unity Catalog table: the same table, emptied in one
    # commit (DROP TABLE would lose its grants and history), Change Data Feed still on.
    table = catalog_tables.table("refreshed")
    table.append(rows(spark, [(1, "A", 1.0), (2, "B", 2.0)]))
    before = table.version()
    table.replace()
    assert spark.catalog.tableExists(table.location)
    assert table.read().count() == 0 and table.read(version=before).count() == 2
    detail = spark.sql(f"DESCRIBE DETAIL {table.name.sql}").first()
    assert detail["properties"]["delta.enableChangeDataFeed"] == "true"
    assert table.history(limit=1)[0].operation in REPLACED
