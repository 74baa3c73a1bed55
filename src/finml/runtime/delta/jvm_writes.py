"""Writes of the ``delta-spark`` engine: DataFrame writes and ``MERGE``, each retried when
it loses a commit race to a concurrent writer (Delta checks a write's transaction id inside
its own transaction, so a retried batch that is already committed is skipped).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow as pa

from finml.runtime.delta.base import (
    TABLE_PROPERTIES,
    HistoryEntry,
    MergeSpec,
    TableRef,
    Txn,
    WriteMode,
    WriteResult,
    merge_metrics,
)
from finml.runtime.delta.commits import commit_info
from finml.runtime.delta.conflicts import retry_conflicts
from finml.runtime.delta.jvm_sql import is_delta_conflict, merge_sql, session_conf
from finml.runtime.delta.schemas import conform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

_TXN_CONF = ("spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion")
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
CDF = "delta.enableChangeDataFeed"


# Writer features delta-rs appends under (Delta tables delta-spark makes locally have
# none, or these); anything else -- row tracking, deletion vectors, column mapping,
# identity columns -- is written by Spark.
_RS_WRITER_FEATURES = frozenset(
    {"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns",
     "timestampNtz"}
)  # fmt: skip


def _rs_appendable(location: Path) -> bool:
    """True when delta-rs may append to the table at ``location``: writer protocol up to 4
    (no column mapping or identity columns), or 7 with only features it implements."""
    from deltalake import DeltaTable

    protocol = DeltaTable(str(location)).protocol()
    if protocol.min_writer_version <= 4:
        return True
    features = set(protocol.writer_features or ())
    return protocol.min_writer_version == 7 and features <= _RS_WRITER_FEATURES


def by_path(ref: TableRef) -> bool:
    """True when the table is addressed by a path (local or remote), not a catalog name."""
    return ref.location.startswith("/") or "://" in ref.location


def local_path(ref: TableRef) -> Path | None:
    """The table's folder when it is on the local file system (else None)."""
    if ref.location.startswith("/"):
        return Path(ref.location)
    parsed = urlparse(ref.location)
    return Path(parsed.path) if parsed.scheme == "file" else None


class JvmWrites:
    """The write half of :class:`~finml.runtime.delta.jvm.DeltaSparkEngine` (a mixin: it
    uses the engine's session, addressing and metadata methods)."""

    exists: Callable[[TableRef], bool]
    schema: Callable[[TableRef], StructType]
    version: Callable[[TableRef], int]
    txn_version: Callable[[TableRef, str], int | None]
    history: Callable[[TableRef, int | None], list[HistoryEntry]]
    create: Callable[[TableRef, StructType, tuple[str, ...], str | None], bool]
    _session: Callable[[], SparkSession]
    _target: Callable[[TableRef], str]

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
        if isinstance(data, pa.Table) and mode == "append" and predicate is None:
            appended = self._append_from_driver(ref, data, schema_evolution, txn, metadata)
            if appended is not None:
                return appended
        df = self._frame(data)

        def attempt() -> WriteResult:
            return self._write_once(
                ref, df, mode, predicate, partition_by, schema_evolution, txn, metadata
            )

        # Delta reads the txn version inside its transaction: a concurrent commit of the
        # same app id fails ours (ConcurrentTransactionException) and the retry skips it.
        return retry_conflicts(str(ref), attempt, is_delta_conflict)

    def _append_from_driver(
        self,
        ref: TableRef,
        data: pa.Table,
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult | None:
        """Append rows the driver already holds (an Arrow table: quality rows, audits,
        alerts, monitoring windows) to an existing table on a local path with delta-rs.

        A Spark write of a few rows and Delta's JVM commit take about a second (a snapshot
        rebuilt by Spark jobs, then the commit); delta-rs commits them in milliseconds,
        and the replay makes about seven such appends a day. The table stays the one
        delta-spark created, with its protocol, and delta-rs checks the transaction id on
        the very snapshot it commits on, so the append is exactly once as Spark's is.
        Returns None, and Spark writes, where delta-rs cannot: a catalog table, no table
        yet (delta-spark creates it), or a writer feature delta-rs lacks.
        """
        local = local_path(ref)
        if local is None or not self.exists(ref) or not _rs_appendable(local):
            return None
        from finml.runtime.delta.rs import DeltaRsEngine

        return DeltaRsEngine(None).write(
            ref,
            data,
            "append",
            predicate=None,
            partition_by=(),
            schema_evolution=schema_evolution,
            txn=txn,
            metadata=metadata,
        )

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
        if before < 0 and not by_path(ref):
            # A catalog table is created, then written like an existing one: Spark Connect
            # delivers no DataFrame.observe metrics for a CREATE TABLE AS SELECT (saveAsTable
            # of a new table), which the stages count rows with.
            self.create(ref, df.schema, partition_by, None)
            before = self.version(ref)
        if before >= 0:
            df, _ = conform(df, self.schema(ref), str(ref), allow_new_columns=schema_evolution)
        writer = df.write.format("delta").mode(mode)
        if predicate:
            writer = writer.option("replaceWhere", predicate)
        if before < 0:
            for key, value in TABLE_PROPERTIES.items():
                writer = writer.option(key, value)
            if partition_by:
                writer = writer.partitionBy(*partition_by)
            if local_path(ref) is None:
                writer = writer.option(CDF, "true")
        if schema_evolution:
            writer = writer.option("mergeSchema", "true")
        if txn is not None:
            # Delta itself skips a write whose (txnAppId, txnVersion) is already committed.
            writer = writer.option("txnAppId", txn.app_id).option("txnVersion", txn.version)
        if metadata:
            writer = writer.option("userMetadata", json.dumps(metadata, sort_keys=True))
        if by_path(ref):
            writer.save(ref.location)
        else:
            writer.saveAsTable(ref.name.sql)
        after = self.version(ref)
        if txn is not None and after == before:
            return WriteResult(str(ref), after, skipped=True)
        return WriteResult(str(ref), after, self._written_rows(ref, after))

    def _written_rows(self, ref: TableRef, version: int) -> int | None:
        """Rows the write committed as ``version`` (its ``numOutputRows`` metric)."""
        local = local_path(ref)
        if local is not None:
            metrics = commit_info(local, version).get("operationMetrics") or {}
        else:
            metrics = self.history(ref, 1)[0].metrics
        rows = metrics.get("numOutputRows")
        return None if rows is None else int(rows)

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
        if isinstance(source, pa.Table):
            merged = self._merge_from_driver(ref, source, spec, schema_evolution, txn, metadata)
            if merged is not None:
                return merged
        df = self._frame(source)

        def attempt() -> WriteResult:
            if txn is not None and txn.done_by(self.txn_version(ref, txn.app_id)):
                return WriteResult(str(ref), self.version(ref), skipped=True)
            if not self.exists(ref):  # nothing to match: the merge is the first write
                return self._write_once(ref, df, "append", None, (), False, txn, metadata)
            return self._merge_once(ref, df, spec, schema_evolution, txn, metadata)

        return retry_conflicts(str(ref), attempt, is_delta_conflict)

    def _merge_from_driver(
        self,
        ref: TableRef,
        source: pa.Table,
        spec: MergeSpec,
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult | None:
        """MERGE rows the driver holds (an Arrow table, e.g. a stage batch's few thousand
        bars) into an existing local table with delta-rs, as :meth:`_append_from_driver`
        appends: a Spark MERGE of a small source costs 1-3 s of planning, snapshot and
        commit; delta-rs takes milliseconds. The txn id is checked on the snapshot the
        commit is made on, so a retried batch is skipped as with Spark. None (Spark merges)
        for a catalog table, a missing table or a writer feature delta-rs lacks."""
        local = local_path(ref)
        if local is None or not self.exists(ref) or not _rs_appendable(local):
            return None
        from finml.runtime.delta.rs import DeltaRsEngine

        return DeltaRsEngine(None).merge(
            ref, source, spec, schema_evolution=schema_evolution, txn=txn, metadata=metadata
        )

    def _merge_once(
        self,
        ref: TableRef,
        df: DataFrame,
        spec: MergeSpec,
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult:
        before = self.version(ref)
        df, _ = conform(df, self.schema(ref), str(ref), allow_new_columns=schema_evolution)
        view = f"finml_merge_source_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        conf: dict[str, str] = {}
        if txn is not None:  # DML takes its txn id from the session
            conf.update({_TXN_CONF[0]: txn.app_id, _TXN_CONF[1]: str(txn.version)})
        if metadata:
            conf[_USER_METADATA] = json.dumps(metadata, sort_keys=True)
        # The source's own session: inside a streaming query's foreachBatch that is a clone
        # of the engine's, and a temporary view is visible only in the session it was made in.
        spark = df.sparkSession
        try:
            with session_conf(spark, conf):
                rows = spark.sql(
                    merge_sql(self._target(ref), view, spec, evolve=schema_evolution)
                ).collect()
        finally:
            spark.catalog.dropTempView(view)
        after = self.version(ref)
        metrics = merge_metrics(rows[0].asDict() if rows else {})
        skipped = txn is not None and after == before
        return WriteResult(str(ref), after, skipped=skipped, metrics=metrics)

    def _frame(self, data: DataFrame | pa.Table) -> DataFrame:
        if isinstance(data, pa.Table):
            return self._session().createDataFrame(data)
        return data
