"""The ``delta-rs`` engine (the ``deltalake`` package): the embedded default and CI engine.

Spark still does all compute. Reads hand Spark the exact Parquet files of a snapshot (never
the folder, which may hold removed or uncommitted files); large writes go through
:mod:`finml.runtime.delta.files` so rows never pass through the driver; merges, predicate
overwrites and small driver-side writes cross through Arrow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from deltalake import (
    CommitProperties,
    DeltaTable,
    QueryBuilder,
    Schema,
    Transaction,
    write_deltalake,
)
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import create_table_with_add_actions
from pyspark.sql.types import StructType

from finml.errors import DeltaEngineError, SchemaMismatch, TableNotFound
from finml.runtime.delta import files
from finml.runtime.delta.base import (
    DeltaEngine,
    HistoryEntry,
    MergeSpec,
    TableRef,
    Txn,
    WriteMode,
    WriteResult,
)
from finml.runtime.delta.commits import appended_files
from finml.runtime.delta.schemas import (
    arrow_nullable,
    arrow_to_spark,
    conform,
    nullable,
    spark_to_arrow,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Table features this engine's Spark read path cannot honour by listing files.
_UNSUPPORTED_READ_FEATURES = {"deletionVectors", "columnMapping"}
_COMMIT_RETRIES = 20


class DeltaRsEngine(DeltaEngine):
    name = "delta-rs"

    # ---- metadata --------------------------------------------------------------------
    def exists(self, ref: TableRef) -> bool:
        return DeltaTable.is_deltatable(ref.location)

    def _table(self, ref: TableRef, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(ref.location, version=version)
        except TableNotFoundError:
            raise TableNotFound(
                f"table {ref}: expected a Delta table at {ref.location}, found none"
            ) from None
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
        actions = pa.table(self._table(ref).get_add_actions(flatten=True))
        if "num_records" in actions.column_names and actions.num_rows:
            records = actions.column("num_records")
            if records.null_count == 0:
                return int(pa.compute.sum(records).as_py())
        return self.to_arrow(ref, None).num_rows

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
                    metadata={k: v for k, v in commit.items() if k not in standard},
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
            return spark.createDataFrame(_scan(table).to_pandas(), schema=schema)
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

    def to_arrow(self, ref: TableRef, version: int | None) -> pa.Table:
        return _scan(self._table(ref, version))

    # ---- writes ----------------------------------------------------------------------
    def create(
        self, ref: TableRef, schema: StructType, partition_by: tuple[str, ...], comment: str | None
    ) -> bool:
        if self.exists(ref):
            return False
        Path(ref.location).mkdir(parents=True, exist_ok=True)
        DeltaTable.create(
            ref.location,
            schema=spark_to_arrow(schema),
            partition_by=list(partition_by) or None,
            mode="ignore",
            name=ref.name.table,
            description=comment,
        )
        return True

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
        if txn is not None and txn.done_by(self.txn_version(ref, txn.app_id)):
            return WriteResult(str(ref), self.version(ref), skipped=True)
        props = _commit_properties(metadata, txn)
        if isinstance(data, pa.Table):
            return self._write_arrow(
                ref, data, mode, predicate, partition_by, schema_evolution, props
            )
        data, new_fields = self._conform(ref, data, schema_evolution)
        if predicate is not None:
            arrow = arrow_nullable(data.toArrow())
            return self._write_arrow(
                ref, arrow, mode, predicate, partition_by, schema_evolution, props
            )
        return self._write_files(ref, data, mode, partition_by, new_fields, props)

    def _conform(
        self, ref: TableRef, df: DataFrame, schema_evolution: bool
    ) -> tuple[DataFrame, list[Any]]:
        if not self.exists(ref):
            return df, []
        return conform(df, self.schema(ref), str(ref), allow_new_columns=schema_evolution)

    def _write_files(
        self,
        ref: TableRef,
        df: DataFrame,
        mode: WriteMode,
        partition_by: tuple[str, ...],
        new_fields: list[Any],
        props: CommitProperties,
    ) -> WriteResult:
        root = Path(ref.location)
        root.mkdir(parents=True, exist_ok=True)
        exists = self.exists(ref)
        if exists:
            partition_by = tuple(self._table(ref).metadata().partition_columns)
        actions = files.stage_and_collect(df, root, partition_by)
        rows = sum(_num_records(a) for a in actions)
        if not exists:
            schema = Schema.from_arrow(spark_to_arrow(nullable(df.schema)))
            create_table_with_add_actions(
                ref.location,
                schema,
                actions,
                mode="append",
                partition_by=list(partition_by) or None,
                name=ref.name.table,
                commit_properties=props,
            )
            return WriteResult(str(ref), self.version(ref), rows)
        table = self._table(ref)
        if new_fields:
            added = Schema.from_arrow(spark_to_arrow(StructType(new_fields)))
            table.alter.add_columns(list(added.fields))
            table = self._table(ref)
        table.create_write_transaction(
            actions,
            mode=mode,
            schema=table.schema(),
            partition_by=list(partition_by) or None,
            commit_properties=props,
        )
        return WriteResult(str(ref), self.version(ref), rows)

    def _write_arrow(
        self,
        ref: TableRef,
        data: pa.Table,
        mode: WriteMode,
        predicate: str | None,
        partition_by: tuple[str, ...],
        schema_evolution: bool,
        props: CommitProperties,
    ) -> WriteResult:
        Path(ref.location).mkdir(parents=True, exist_ok=True)
        exists = self.exists(ref)
        if exists:
            data = _align_arrow(
                data, pa.schema(self._table(ref).schema().to_arrow()), str(ref), schema_evolution
            )
        else:
            data = arrow_nullable(data)
        try:
            write_deltalake(
                ref.location,
                data,
                mode=mode,
                predicate=predicate,
                partition_by=(list(partition_by) or None) if not exists else None,
                schema_mode="merge" if schema_evolution and exists else None,
                name=None if exists else ref.name.table,
                commit_properties=props,
            )
        except Exception as exc:
            raise DeltaEngineError(f"table {ref}: {mode} failed: {exc}") from exc
        return WriteResult(str(ref), self.version(ref), data.num_rows)

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
        if txn is not None and txn.done_by(self.txn_version(ref, txn.app_id)):
            return WriteResult(str(ref), self.version(ref), skipped=True)
        props = _commit_properties(metadata, txn)
        if not isinstance(source, pa.Table):
            source, _ = self._conform(ref, source, schema_evolution)
            source = source.toArrow()
        if not self.exists(ref):
            # Nothing to match: a merge into a missing table is its first write.
            return self._write_arrow(ref, source, "append", None, (), False, props)
        target = pa.schema(self._table(ref).schema().to_arrow())
        source = _align_arrow(source, target, str(ref), schema_evolution)
        merger = self._table(ref).merge(
            source,
            predicate=" AND ".join(f't."{k}" = s."{k}"' for k in spec.keys),
            source_alias="s",
            target_alias="t",
            merge_schema=schema_evolution,
            commit_properties=props,
        )
        if spec.delete_condition:
            merger = merger.when_matched_delete(predicate=spec.delete_condition)
        if spec.update_columns is None:
            merger = merger.when_matched_update_all(predicate=spec.matched_condition)
        else:
            merger = merger.when_matched_update(
                updates={c: f's."{c}"' for c in spec.update_columns},
                predicate=spec.matched_condition,
            )
        if spec.insert:
            merger = merger.when_not_matched_insert_all(predicate=spec.insert_condition)
        if spec.delete_not_matched_by_source:
            merger = merger.when_not_matched_by_source_delete()
        try:
            metrics = merger.execute()
        except Exception as exc:
            raise DeltaEngineError(f"table {ref}: merge failed: {exc}") from exc
        return WriteResult(str(ref), self.version(ref), source.num_rows, metrics=dict(metrics))

    def delete(self, ref: TableRef, predicate: str | None) -> WriteResult:
        metrics = self._table(ref).delete(predicate)
        return WriteResult(str(ref), self.version(ref), metrics=dict(metrics))

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

    def _spark(self) -> Any:
        if self.spark is None:
            raise DeltaEngineError("reading into Spark: expected a SparkSession, got None")
        return self.spark


def _scan(table: DeltaTable) -> pa.Table:
    """Read a snapshot through delta-rs's DataFusion engine.

    ``to_pyarrow_table()``, ``to_pandas()`` and scanning ``to_pyarrow_dataset()`` make the
    Python process abort when it exits (deltalake 1.6.6 with pyarrow 25: "terminate called
    without an active exception", exit code 134) although the read succeeds; the
    QueryBuilder path exits cleanly (tests check the exit code of real processes).
    """
    reader = QueryBuilder().register("snapshot", table).execute('SELECT * FROM "snapshot"')
    return pa.table(reader.read_all())


def _commit_properties(metadata: dict[str, str], txn: Txn | None) -> CommitProperties:
    transactions = [Transaction(app_id=txn.app_id, version=txn.version)] if txn else None
    return CommitProperties(
        custom_metadata=dict(metadata) or None,
        max_commit_retries=_COMMIT_RETRIES,
        app_transactions=transactions,
    )


def _num_records(action: Any) -> int:
    return int(json.loads(action.stats)["numRecords"])


def _align_arrow(data: pa.Table, target: pa.Schema, table: str, evolve: bool) -> pa.Table:
    """Order, cast and fill ``data`` to ``target``; new columns only when ``evolve``."""
    names = {name.lower(): name for name in data.column_names}
    arrays, fields, problems = [], [], []
    for field in target:
        name = names.pop(field.name.lower(), None)
        if name is None:
            arrays.append(pa.nulls(data.num_rows, field.type))
        else:
            try:
                arrays.append(data.column(name).cast(field.type, safe=True))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                problems.append(
                    f"column {field.name!r}: expected {field.type}, "
                    f"got {data.schema.field(name).type}"
                )
                continue
        fields.append(field.with_nullable(True))
    if names and not evolve:
        problems.append(
            f"new columns {sorted(names.values())} not in the table (enable schema evolution)"
        )
    if problems:
        raise SchemaMismatch(f"table {table}: " + "; ".join(problems))
    for name in names.values():
        arrays.append(data.column(name))
        fields.append(data.schema.field(name).with_nullable(True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
