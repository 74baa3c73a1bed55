"""The ``delta-rs`` engine (the ``deltalake`` package): the embedded default and CI engine.

Spark still does all compute. Reads hand Spark the exact Parquet files of a snapshot (never
the folder, which may hold removed or uncommitted files); large writes go through
:mod:`finml.runtime.delta.files` so rows never pass through the driver; merges, predicate
overwrites and small driver-side writes cross through Arrow.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError
from pyspark.sql.types import StructType

from finml.errors import DeltaEngineError, TableNotFound
from finml.runtime.delta import files
from finml.runtime.delta.base import (
    TABLE_PROPERTIES,
    DeltaEngine,
    HistoryEntry,
    TableRef,
    WriteResult,
)
from finml.runtime.delta.commits import appended_files, counted_from_log
from finml.runtime.delta.rs_writes import RsWrites, datafusion_sql
from finml.runtime.delta.schemas import (
    arrow_to_spark,
    plain_layout,
    spark_to_arrow,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Table features this engine's Spark read path cannot honour by listing files.
_UNSUPPORTED_READ_FEATURES = {"deletionVectors", "columnMapping"}


class DeltaRsEngine(RsWrites, DeltaEngine):
    name = "delta-rs"

    # ---- metadata --------------------------------------------------------------------
    def exists(self, ref: TableRef) -> bool:
        return DeltaTable.is_deltatable(ref.location)

    def _table(self, ref: TableRef, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(ref.location, version=version)
        except TableNotFoundError:
            raise _not_found(ref) from None
        except Exception as exc:  # e.g. a version that does not exist
            raise DeltaEngineError(f"table {ref}: cannot open version {version}: {exc}") from exc

    def version(self, ref: TableRef) -> int:
        return self._table(ref).version()

    def txn_version(self, ref: TableRef, app_id: str) -> int | None:
        if not self.exists(ref):
            return None
        return self._table(ref).transaction_version(app_id)

    def schema(self, ref: TableRef) -> StructType:
        return arrow_to_spark(pa.schema(self._table(ref).schema().to_arrow()))

    def count(self, ref: TableRef) -> int:
        counted = counted_from_log(self._table(ref))
        return counted if counted is not None else self.to_arrow(ref, None).num_rows

    def history(self, ref: TableRef, limit: int | None) -> list[HistoryEntry]:
        standard = {
            "timestamp",
            "operation",
            "operationParameters",
            "operationMetrics",
            "version",
            "readVersion",
            "engineInfo",
            "clientVersion",
            "isBlindAppend",
        }
        entries = []
        for commit in self._table(ref).history(limit):
            entries.append(
                HistoryEntry(
                    version=int(commit["version"]),
                    timestamp=datetime.fromtimestamp(commit["timestamp"] / 1000, UTC),
                    operation=str(commit.get("operation", "")),
                    parameters=dict(commit.get("operationParameters") or {}),
                    metadata=_metadata({k: v for k, v in commit.items() if k not in standard}),
                    metrics=dict(commit.get("operationMetrics") or {}),
                )
            )
        return entries

    # ---- reads -----------------------------------------------------------------------
    def read(self, ref: TableRef, version: int | None, timestamp: datetime | None) -> DataFrame:
        spark = self._spark()
        table = self._table(ref, version)
        if timestamp is not None:
            table.load_as_version(timestamp)
        schema = arrow_to_spark(pa.schema(table.schema().to_arrow()))
        features = set(table.protocol().reader_features or [])
        if features & _UNSUPPORTED_READ_FEATURES:
            return spark.createDataFrame(scan(table).to_pandas(), schema=schema)
        uris = table.file_uris()
        if not uris:
            return spark.createDataFrame([], schema)
        reader = spark.read.schema(schema).option("basePath", ref.location)
        return reader.parquet(*uris).select(*[f.name for f in schema])

    def read_appended(self, ref: TableRef, since: int | None, until: int) -> DataFrame:
        if since is None:
            return self.read(ref, until, None)
        table = self._table(ref, until)
        schema = arrow_to_spark(pa.schema(table.schema().to_arrow()))
        paths = appended_files(Path(ref.location), since, until)
        if not paths:
            return self._spark().createDataFrame([], schema)
        reader = self._spark().read.schema(schema).option("basePath", ref.location)
        return reader.parquet(*paths).select(*[f.name for f in schema])

    def to_arrow(self, ref: TableRef, version: int | None, where: str | None = None) -> pa.Table:
        return scan(self._table(ref, version), where)

    # ---- writes ----------------------------------------------------------------------
    def create(
        self, ref: TableRef, schema: StructType, partition_by: tuple[str, ...], comment: str | None
    ) -> bool:
        if self.exists(ref):
            return False
        Path(ref.location).mkdir(parents=True, exist_ok=True)
        try:
            DeltaTable.create(
                ref.location,
                schema=spark_to_arrow(schema),
                partition_by=list(partition_by) or None,
                mode="error",
                name=ref.name.table,
                description=comment,
                configuration=TABLE_PROPERTIES,
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except Exception:
            if self.exists(ref):  # a concurrent writer created it first
                return False
            raise
        return True

    def replace(
        self,
        ref: TableRef,
        schema: StructType | None,
        partition_by: tuple[str, ...] | None,
        comment: str | None,
    ) -> WriteResult:
        current = self._table(ref) if self.exists(ref) else None
        if current is None:
            if schema is None:
                raise _not_found(ref)
            Path(ref.location).mkdir(parents=True, exist_ok=True)
            DeltaTable.create(
                ref.location,
                schema=spark_to_arrow(schema),
                partition_by=list(partition_by or ()) or None,
                mode="overwrite",
                name=ref.name.table,
                description=comment,
                configuration=TABLE_PROPERTIES,
            )
        else:
            metadata = current.metadata()
            parts = metadata.partition_columns if partition_by is None else partition_by
            DeltaTable.create(
                ref.location,
                schema=current.schema() if schema is None else spark_to_arrow(schema),
                partition_by=list(parts) or None,
                mode="overwrite",
                name=ref.name.table,
                description=metadata.description if comment is None else comment,
                configuration=dict(metadata.configuration),
            )
        return WriteResult(str(ref), self.version(ref))

    def delete(self, ref: TableRef, predicate: str | None) -> WriteResult:
        metrics = self._table(ref).delete(datafusion_sql(predicate))
        return WriteResult(str(ref), self.version(ref), metrics=dict(metrics))

    def drop(self, ref: TableRef) -> bool:
        """Remove the table's folder (data and log); True if there was one."""
        location = Path(ref.location)
        existed = location.exists()
        shutil.rmtree(location, ignore_errors=True)
        return existed

    # ---- maintenance -----------------------------------------------------------------
    def optimize(self, ref: TableRef) -> dict[str, Any]:
        return dict(self._table(ref).optimize.compact())

    def vacuum(self, ref: TableRef, retention_hours: int) -> list[str]:
        files.clean_staging(Path(ref.location))
        return list(
            self._table(ref).vacuum(
                retention_hours=retention_hours,
                dry_run=False,
                enforce_retention_duration=retention_hours >= 168,
            )
        )

    def _spark(self) -> SparkSession:
        if self.spark is None:
            raise DeltaEngineError("reading into Spark: expected a SparkSession, got None")
        return self.spark


def scan(table: DeltaTable, where: str | None = None) -> pa.Table:
    """Read a snapshot (its rows matching SQL predicate ``where``, if given) through
    delta-rs's DataFusion engine.

    ``to_pyarrow_table()``, ``to_pandas()`` and scanning ``to_pyarrow_dataset()`` make the
    Python process abort when it exits (deltalake 1.6.6 with pyarrow 25: "terminate called
    without an active exception", exit code 134) although the read succeeds; the
    QueryBuilder path exits cleanly (tests check the exit code of real processes).
    """
    # ``where`` is a predicate FinML builds from typed values (bounds), never user text
    query = 'SELECT * FROM "snapshot"' + ("" if where is None else f" WHERE {where}")  # noqa: S608
    reader = QueryBuilder().register("snapshot", table).execute(query)
    return plain_layout(pa.table(reader.read_all()))


def _not_found(ref: TableRef) -> TableNotFound:
    return TableNotFound(f"table {ref}: expected a Delta table at {ref.location}, found none")


def _metadata(extra: dict[str, Any]) -> dict[str, Any]:
    """A commit's metadata as :func:`~finml.runtime.delta.jvm_sql.history_entry` gives it:
    the ``userMetadata`` JSON object unpacked (other custom keys, e.g. of older commits,
    kept as they are)."""
    user = extra.pop("userMetadata", None)
    if not isinstance(user, str):
        return extra if user is None else {**extra, "userMetadata": user}
    try:
        parsed = json.loads(user)
    except ValueError:
        parsed = None
    return {**extra, **parsed} if isinstance(parsed, dict) else {**extra, "userMetadata": user}
