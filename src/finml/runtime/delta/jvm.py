"""The ``delta-spark`` engine (JVM Delta): Databricks, or any Spark with the Delta jars.

Tables are addressed by path locally and by their Unity Catalog name on Databricks
(:attr:`TableRef.location` is then the three-part name). Everything goes through public
Spark APIs -- DataFrame reads and writes and Delta's SQL (``MERGE``, ``DESCRIBE HISTORY``,
``OPTIMIZE``, ``VACUUM``) -- never ``SparkContext`` or the Py4J gateway, so the engine runs
unchanged on classic Spark, Spark Connect and Databricks serverless.

Metadata of a table on a local path (version, transaction ids) is read from its log with
delta-rs, which takes milliseconds where a Spark job takes a second, and so are its reads
into Arrow (the driver's small reads: audits, logs, monitoring windows); Unity Catalog
tables answer through SQL and Spark. Writes and merges are in
:mod:`~finml.runtime.delta.jvm_writes`.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.errors import DeltaEngineError, TableNotFound
from finml.names import quote
from finml.runtime.delta.base import (
    TABLE_PROPERTIES,
    DeltaEngine,
    HistoryEntry,
    TableRef,
    WriteResult,
)
from finml.runtime.delta.commits import appended_files, counted_from_log
from finml.runtime.delta.conflicts import retry_conflicts
from finml.runtime.delta.jvm_sql import (
    create_table_sql,
    history_entry,
    is_delta_conflict,
    session_conf,
)
from finml.runtime.delta.jvm_writes import CDF, JvmWrites, by_path, local_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery
    from pyspark.sql.types import StructType


class DeltaSparkEngine(JvmWrites, DeltaEngine):
    name = "delta-spark"
    streams = True

    # ---- addressing ------------------------------------------------------------------
    def _target(self, ref: TableRef) -> str:
        """The table in Delta SQL: ``delta.`<path>``` or its quoted three-part name."""
        if by_path(ref):
            return f"delta.`{ref.location.replace('`', '')}`"
        return ref.name.sql

    def _session(self) -> SparkSession:
        if self.spark is None:
            raise DeltaEngineError("delta-spark engine: expected a SparkSession, got None")
        return self.spark

    def _require(self, ref: TableRef) -> None:
        if not self.exists(ref):
            raise TableNotFound(
                f"table {ref}: expected a Delta table at {ref.location}, found none"
            )

    # ---- metadata --------------------------------------------------------------------
    def exists(self, ref: TableRef) -> bool:
        local = local_path(ref)
        if local is not None:
            log = local / "_delta_log"
            return log.is_dir() and (any(log.glob("*.json")) or any(log.glob("*.parquet")))
        if by_path(ref):
            try:
                self._session().sql(f"DESCRIBE DETAIL {self._target(ref)}").collect()
                return True
            except Exception:
                return False
        return self._in_catalog(ref)

    def _in_catalog(self, ref: TableRef) -> bool:
        """True if the catalog lists ``ref`` as a table (temporary views are not tables).

        Asked with ``SHOW TABLES``, a SQL command, not ``spark.catalog.tableExists``: under
        Spark Connect the latter is a relation, and the server caches the result of each
        relation per session, keyed by the relation's plan id. Plan ids count up per client
        process, and a ``foreachBatch`` function runs in another process (the server's Python
        worker) on the same session: the ingest batch asking before it created a table and
        the client asking later with the same plan id got the same cached "false" (the stage
        skipped its upstream, or found it and then lost it: ``TableNotFound``). A command is
        executed on every call.
        """
        from pyspark.errors import AnalysisException

        name = ref.name
        statement = f"SHOW TABLES IN {quote(name.catalog)}.{quote(name.schema)} LIKE '{name.table}'"
        try:
            rows = self._session().sql(statement).collect()
        except AnalysisException as exc:
            if exc.getCondition() in ("SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND"):
                return False
            raise
        return any(r["tableName"].lower() == name.table and not r["isTemporary"] for r in rows)

    def version(self, ref: TableRef) -> int:
        self._require(ref)
        local = local_path(ref)
        if local is not None:
            from deltalake import DeltaTable

            return int(DeltaTable(str(local)).version())
        return self.history(ref, 1)[0].version

    def txn_version(self, ref: TableRef, app_id: str) -> int | None:
        """The last committed version of writer ``app_id``, from the log.

        Tables on a local path only: Delta's SQL does not expose transaction ids, and Unity
        Catalog tables keep their stages' progress in streaming checkpoints instead (their
        writes stay idempotent: Delta checks the txn inside each write). Returns None there.
        """
        local = local_path(ref)
        if local is None or not self.exists(ref):
            return None
        from deltalake import DeltaTable

        found = DeltaTable(str(local)).transaction_version(app_id)
        return None if found is None else int(found)

    def history(self, ref: TableRef, limit: int | None) -> list[HistoryEntry]:
        self._require(ref)
        statement = f"DESCRIBE HISTORY {self._target(ref)}"
        if limit:
            statement += f" LIMIT {int(limit)}"
        return [history_entry(row) for row in self._session().sql(statement).collect()]

    def schema(self, ref: TableRef) -> StructType:
        return self.read(ref, None, None).schema

    def count(self, ref: TableRef) -> int:
        """From the log's file statistics for a local table (as delta-rs counts), else a
        Spark count."""
        local = local_path(ref)
        if local is not None and self.exists(ref):
            from deltalake import DeltaTable

            counted = counted_from_log(DeltaTable(str(local)))
            if counted is not None:
                return counted
        return int(self.read(ref, None, None).count())

    # ---- reads -----------------------------------------------------------------------
    def read(self, ref: TableRef, version: int | None, timestamp: datetime | None) -> DataFrame:
        self._require(ref)
        reader = self._session().read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", timestamp.isoformat())
        return reader.load(ref.location) if by_path(ref) else reader.table(ref.name.sql)

    def to_arrow(self, ref: TableRef, version: int | None, where: str | None = None) -> pa.Table:
        """A table on a local path is read by delta-rs, the Spark-free reader (milliseconds
        where a Spark job takes a second; same rows and Arrow types), unless delta-rs cannot
        (a table feature it lacks, a missing version): then Spark reads it."""
        local = local_path(ref)
        if local is not None:
            self._require(ref)
            from deltalake import DeltaTable
            from deltalake.exceptions import DeltaError

            from finml.runtime.delta.rs import scan

            try:
                return scan(DeltaTable(str(local), version=version), where)
            except DeltaError:  # e.g. a reader feature delta-rs lacks: Spark reads it, or
                pass  # raises the error a Spark reader would (a missing version)
        rows = self.read(ref, version, None)
        return (rows if where is None else rows.where(where)).toArrow()

    def read_appended(self, ref: TableRef, since: int | None, until: int) -> DataFrame:
        if since is None:
            return self.read(ref, until, None)
        local = local_path(ref)
        if local is None:
            if since >= until:  # nothing new (the feed refuses a range past the latest)
                return self._session().createDataFrame([], self.schema(ref))
            return self._changes(ref, since, until)
        schema = self.schema(ref)
        paths = appended_files(local, since, until)
        if not paths:
            return self._session().createDataFrame([], schema)
        reader = self._session().read.schema(schema).option("basePath", str(local))
        return reader.parquet(*paths).select(*[f.name for f in schema])

    def read_stream(
        self, ref: TableRef, starting_version: int | None, options: dict[str, str]
    ) -> DataFrame:
        """Delta's streaming source: the table's snapshot, then each commit's new rows
        (from ``starting_version`` instead when given); a commit that updates or deletes
        rows fails the stream (the consumer needs a full refresh)."""
        reader = self._session().readStream.format("delta").options(**options)
        if starting_version is not None:
            reader = reader.option("startingVersion", starting_version)
        return reader.load(ref.location) if by_path(ref) else reader.table(ref.name.sql)

    def write_stream(
        self, ref: TableRef, frame: DataFrame, checkpoint: str, interval: str | None
    ) -> StreamingQuery:
        """Delta's streaming sink, appending; idempotent per micro-batch (the sink commits
        each batch with the query id and batch id as its transaction)."""
        writer = (
            frame.writeStream.format("delta")
            .outputMode("append")
            .option("checkpointLocation", checkpoint)
            .option("mergeSchema", "true")  # a column FinML added since the table was made
        )
        writer = (
            writer.trigger(availableNow=True)
            if interval is None
            else writer.trigger(processingTime=interval)
        )
        return writer.start(ref.location) if by_path(ref) else writer.toTable(ref.name.sql)

    def _changes(self, ref: TableRef, since: int, until: int) -> DataFrame:
        """Rows inserted by commits ``since+1 .. until`` through the Change Data Feed (how a
        Unity Catalog table, whose files this process cannot list, is read incrementally).

        Like the path reader, it refuses a range in which a commit updated or deleted rows
        (the consumer needs a full refresh); rewrites without data change (``OPTIMIZE``)
        have no change rows. Appended rows' change type is a partition value of the feed,
        so the check prunes them instead of reading them.

        Raises:
            DeltaEngineError: a commit in the range updated or deleted rows.
        """
        from pyspark.sql import functions as F

        reader = (
            self._session()
            .read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", since + 1)
            .option("endingVersion", until)
        )
        changes = reader.load(ref.location) if by_path(ref) else reader.table(ref.name.sql)
        changed = (
            changes.where(F.col("_change_type") != "insert")
            .select("_commit_version")
            .orderBy("_commit_version")
            .limit(1)
            .collect()
        )
        if changed:
            raise DeltaEngineError(
                f"table {ref}: commit {changed[0][0]} updated or deleted rows; incremental "
                "reading supports appends only; run a full refresh"
            )
        inserted = changes.where(F.col("_change_type") == "insert")
        return inserted.drop("_change_type", "_commit_version", "_commit_timestamp")

    # ---- writes ----------------------------------------------------------------------
    def create(
        self, ref: TableRef, schema: StructType, partition_by: tuple[str, ...], comment: str | None
    ) -> bool:
        if self.exists(ref):
            return False
        properties = dict(TABLE_PROPERTIES)
        if local_path(ref) is None:
            properties[CDF] = "true"
        statement = create_table_sql(self._target(ref), schema, partition_by, comment, properties)
        retry_conflicts(str(ref), lambda: self._session().sql(statement), is_delta_conflict)
        return True

    def replace(
        self,
        ref: TableRef,
        schema: StructType | None,
        partition_by: tuple[str, ...] | None,
        comment: str | None,
    ) -> WriteResult:
        if schema is None:
            self._require(ref)
            schema = self.schema(ref)
        if not self.exists(ref):
            self.create(ref, schema, partition_by or (), comment)
            return WriteResult(str(ref), self.version(ref))
        detail = self._session().sql(f"DESCRIBE DETAIL {self._target(ref)}").first()
        if detail is None:  # DESCRIBE DETAIL answers one row for an existing table
            raise DeltaEngineError(f"table {ref}: expected a DESCRIBE DETAIL row, got none")
        if partition_by is None:
            partition_by = tuple(detail["partitionColumns"] or ())
        comment = comment if comment is not None else detail["description"]
        properties = dict(detail["properties"] or {})
        if local_path(ref) is None:
            properties[CDF] = "true"
        statement = create_table_sql(
            self._target(ref), schema, partition_by, comment, properties, replace=True
        )
        retry_conflicts(str(ref), lambda: self._session().sql(statement), is_delta_conflict)
        return WriteResult(str(ref), self.version(ref))

    def delete(self, ref: TableRef, predicate: str | None) -> WriteResult:
        self._require(ref)
        # The target is a validated name or path; predicates come from FinML's own code.
        statement = f"DELETE FROM {self._target(ref)}"  # noqa: S608
        if predicate:
            statement += f" WHERE {predicate}"
        rows = self._session().sql(statement).collect()
        metrics = rows[0].asDict() if rows else {}
        return WriteResult(str(ref), self.version(ref), metrics=metrics)

    def drop(self, ref: TableRef) -> bool:
        local = local_path(ref)
        if local is not None:
            existed = local.exists()
            shutil.rmtree(local, ignore_errors=True)
            return existed
        if by_path(ref):
            raise DeltaEngineError(
                f"table {ref}: dropping a table on remote storage ({ref.location}) is not "
                "supported; drop it by its Unity Catalog name"
            )
        existed = self.exists(ref)
        self._session().sql(f"DROP TABLE IF EXISTS {self._target(ref)}")
        return existed

    # ---- maintenance -----------------------------------------------------------------
    def optimize(self, ref: TableRef) -> dict[str, Any]:
        self._require(ref)
        rows = self._session().sql(f"OPTIMIZE {self._target(ref)}").collect()
        result = rows[0].asDict(recursive=True) if rows else {}
        return dict(result.get("metrics") or {})  # numFilesAdded, numFilesRemoved, ...

    def vacuum(self, ref: TableRef, retention_hours: int) -> list[str]:
        self._require(ref)
        conf = {}
        if retention_hours < 168:  # Delta refuses a short retention unless told it is safe
            conf["spark.databricks.delta.retentionDurationCheck.enabled"] = "false"
        spark = self._session()
        with session_conf(spark, conf):
            rows = spark.sql(
                f"VACUUM {self._target(ref)} RETAIN {int(retention_hours)} HOURS"
            ).collect()
        return [str(row[0]) for row in rows if row[0] and not str(row[0]).endswith("/")]
