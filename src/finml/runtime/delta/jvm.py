"""The ``delta-spark`` engine (JVM Delta): Databricks, or local Spark with the Delta jars.

Tables are addressed by path locally and by their Unity Catalog name on Databricks
(:attr:`TableRef.location` is then the three-part name). Everything runs in the JVM.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.errors import DeltaEngineError, TableNotFound
from finml.runtime.delta.base import (
    DeltaEngine,
    HistoryEntry,
    MergeSpec,
    TableRef,
    Txn,
    WriteMode,
    WriteResult,
)
from finml.runtime.delta.conflicts import retry_conflicts
from finml.runtime.delta.schemas import conform, nullable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType


def _by_path(ref: TableRef) -> bool:
    return ref.location.startswith("/") or "://" in ref.location


class DeltaSparkEngine(DeltaEngine):
    name = "delta-spark"

    def _delta_table(self, ref: TableRef) -> Any:
        from delta.tables import DeltaTable

        if not self.exists(ref):
            raise TableNotFound(
                f"table {ref}: expected a Delta table at {ref.location}, found none"
            )
        if _by_path(ref):
            return DeltaTable.forPath(self.spark, ref.location)
        return DeltaTable.forName(self.spark, ref.name.sql)

    def _sql_target(self, ref: TableRef) -> str:
        if _by_path(ref):
            return f"delta.`{ref.location.replace('`', '')}`"
        return ref.name.sql

    def exists(self, ref: TableRef) -> bool:
        from delta.tables import DeltaTable

        if _by_path(ref):
            return bool(DeltaTable.isDeltaTable(self.spark, ref.location))
        return bool(self.spark.catalog.tableExists(str(ref.name)))  # type: ignore[union-attr]

    def create(
        self, ref: TableRef, schema: StructType, partition_by: tuple[str, ...], comment: str | None
    ) -> bool:
        from delta.tables import DeltaTable

        if self.exists(ref):
            return False
        builder = DeltaTable.createIfNotExists(self.spark).addColumns(nullable(schema))
        builder = (
            builder.location(ref.location) if _by_path(ref) else builder.tableName(ref.name.sql)
        )
        if partition_by:
            builder = builder.partitionedBy(*partition_by)
        if comment:
            builder = builder.comment(comment)
        builder.execute()
        return True

    def read(self, ref: TableRef, version: int | None, timestamp: datetime | None) -> DataFrame:
        if not self.exists(ref):
            raise TableNotFound(
                f"table {ref}: expected a Delta table at {ref.location}, found none"
            )
        reader = self.spark.read.format("delta")  # type: ignore[union-attr]
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", timestamp.isoformat())
        return reader.load(ref.location) if _by_path(ref) else reader.table(ref.name.sql)

    def to_arrow(self, ref: TableRef, version: int | None) -> pa.Table:
        return self.read(ref, version, None).toArrow()

    def write(
        self,
        ref: TableRef,
        data: DataFrame | pa.Table,
        mode: WriteMode,
        *,
        predicate: str | None,
        partition_by: tuple[str, ...],
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult:
        df = self._frame(data)

        def attempt() -> WriteResult:
            return self._write_once(
                ref, df, mode, predicate, partition_by, schema_evolution, txn, metadata
            )

        # Delta reads the txn version inside its transaction: a concurrent commit of the
        # same app id fails ours (ConcurrentTransactionException) and the retry skips it.
        return retry_conflicts(str(ref), attempt, is_delta_conflict)

    def _write_once(
        self,
        ref: TableRef,
        df: DataFrame,
        mode: WriteMode,
        predicate: str | None,
        partition_by: tuple[str, ...],
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult:
        before = self.version(ref) if self.exists(ref) else -1
        if before >= 0:
            df, _ = conform(df, self.schema(ref), str(ref), allow_new_columns=schema_evolution)
        writer = df.write.format("delta").mode(mode)
        if predicate:
            writer = writer.option("replaceWhere", predicate)
        if partition_by and before < 0:
            writer = writer.partitionBy(*partition_by)
        if schema_evolution:
            writer = writer.option("mergeSchema", "true")
        if txn is not None:
            # Delta itself skips a write whose (txnAppId, txnVersion) is already committed.
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", txn.version)
        if metadata:
            writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True))
        if _by_path(ref):
            writer.save(ref.location)
        else:
            writer.saveAsTable(ref.name.sql)
        after = self.version(ref)
        return WriteResult(str(ref), after, skipped=txn is not None and after == before)

    def merge(
        self,
        ref: TableRef,
        source: DataFrame | pa.Table,
        spec: MergeSpec,
        *,
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult:
        df = self._frame(source)

        def attempt() -> WriteResult:
            if txn is not None and txn.done_by(self.txn_version(ref, txn.app_id)):
                return WriteResult(str(ref), self.version(ref), skipped=True)
            with _session_txn(self.spark, txn):
                return self._merge_once(ref, df, spec, schema_evolution, metadata)

        return retry_conflicts(str(ref), attempt, is_delta_conflict)

    def _merge_once(
        self,
        ref: TableRef,
        df: DataFrame,
        spec: MergeSpec,
        schema_evolution: bool,
        metadata: dict[str, str],
    ) -> WriteResult:
        if not self.exists(ref):
            return self._write_once(ref, df, "append", None, (), False, None, metadata)
        df, _ = conform(df, self.schema(ref), str(ref), allow_new_columns=schema_evolution)
        condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in spec.keys)
        merger = self._delta_table(ref).alias("t").merge(df.alias("s"), condition)
        if spec.delete_condition:
            merger = merger.whenMatchedDelete(condition=spec.delete_condition)
        if spec.update_columns is None:
            merger = merger.whenMatchedUpdateAll(condition=spec.matched_condition)
        else:
            merger = merger.whenMatchedUpdate(
                condition=spec.matched_condition,
                set={c: f"s.`{c}`" for c in spec.update_columns},
            )
        if spec.insert:
            merger = merger.whenNotMatchedInsertAll(condition=spec.insert_condition)
        if spec.delete_not_matched_by_source:
            merger = merger.whenNotMatchedBySourceDelete()
        if schema_evolution:
            merger = merger.withSchemaEvolution()
        merger.execute()
        last = self.history(ref, 1)[0]
        return WriteResult(str(ref), last.version, metrics=last.metrics)

    def read_appended(self, ref: TableRef, since: int | None, until: int) -> DataFrame:
        if since is None:
            return self.read(ref, until, None)
        if not _by_path(ref):
            raise DeltaEngineError(
                f"table {ref}: incremental reads of Unity Catalog tables run as Delta streams "
                "(the Lakeflow pipeline); expected a path-addressed table here"
            )
        from pathlib import Path

        from finml.runtime.delta.commits import appended_files

        schema = self.schema(ref)
        paths = appended_files(Path(ref.location), since, until)
        if not paths:
            return self.spark.createDataFrame([], schema)  # type: ignore[union-attr]
        reader = self.spark.read.schema(schema).option("basePath", ref.location)  # type: ignore[union-attr]
        return reader.parquet(*paths)

    def delete(self, ref: TableRef, predicate: str | None) -> WriteResult:
        self._delta_table(ref).delete(predicate)
        return WriteResult(str(ref), self.version(ref))

    def version(self, ref: TableRef) -> int:
        return self.history(ref, 1)[0].version

    def txn_version(self, ref: TableRef, app_id: str) -> int | None:
        if not self.exists(ref):
            return None
        # SetTransaction actions are not exposed by the Python API; read them from the
        # snapshot through the JVM (Delta 4.x: Snapshot.transactions is Map[String, Long]).
        jvm = self.spark.sparkContext._jvm  # type: ignore[union-attr]
        delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(
            self.spark._jsparkSession,
            ref.location,  # type: ignore[union-attr]
        )
        found = delta_log.unsafeVolatileSnapshot().transactions().get(app_id)
        return int(found.get()) if found.isDefined() else None

    def history(self, ref: TableRef, limit: int | None) -> list[HistoryEntry]:
        table = self._delta_table(ref)
        rows = (table.history(limit) if limit else table.history()).collect()
        return [
            HistoryEntry(
                version=int(r["version"]),
                timestamp=r["timestamp"],
                operation=str(r["operation"]),
                parameters=dict(r["operationParameters"] or {}),
                metadata={"userMetadata": r["userMetadata"]} if r["userMetadata"] else {},
                metrics=dict(r["operationMetrics"] or {}),
            )
            for r in rows
        ]

    def schema(self, ref: TableRef) -> StructType:
        return self.read(ref, None, None).schema

    def count(self, ref: TableRef) -> int:
        return int(self.read(ref, None, None).count())

    def optimize(self, ref: TableRef) -> dict[str, Any]:
        rows = self._delta_table(ref).optimize().executeCompaction().collect()
        return rows[0].asDict(recursive=True) if rows else {}

    def vacuum(self, ref: TableRef, retention_hours: int) -> list[str]:
        self._delta_table(ref).vacuum(retention_hours)
        return []

    def _frame(self, data: DataFrame | pa.Table) -> DataFrame:
        if isinstance(data, pa.Table):
            if self.spark is None:
                raise DeltaEngineError("delta-spark engine: expected a SparkSession, got None")
            return self.spark.createDataFrame(data.to_pandas())
        return data


_TXN_CONF = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")
# Delta's optimistic-concurrency failures (the Java class names and error classes).
_CONFLICTS = (
    "ConcurrentTransactionException",
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
)


def is_delta_conflict(exc: BaseException) -> bool:
    """True when a Delta commit lost to a concurrent one (the write is retried)."""
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in _CONFLICTS)


@contextlib.contextmanager
def _session_txn(spark: Any, txn: Txn | None) -> Iterator[None]:
    """Give the next DML (MERGE) the idempotent-write id ``txn`` through the session conf,
    and clear it afterwards so no later write inherits it (and is wrongly skipped)."""
    if txn is None:
        yield
        return
    spark.conf.set(_TXN_CONF[0], txn.app_id)
    spark.conf.set(_TXN_CONF[1], str(txn.version))
    try:
        yield
    finally:
        for key in _TXN_CONF:
            spark.conf.unset(key)
