"""Writes of the ``delta-rs`` engine: parallel Spark file writes committed by delta-rs,
Arrow writes and merges, each retried on a fresh snapshot when it loses a commit race.

Every write checks its transaction id on the very snapshot it commits on, so a batch that
another process committed meanwhile is skipped (or its commit fails delta-rs' conflict
check and the retry skips it): idempotent writes stay exactly-once across processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Schema, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import create_table_with_add_actions
from pyspark.sql.types import StructType

from finml.errors import DeltaEngineError
from finml.runtime.delta import files
from finml.runtime.delta.base import (
    TABLE_PROPERTIES,
    MergeSpec,
    TableRef,
    Txn,
    WriteMode,
    WriteResult,
    merge_metrics,
)
from finml.runtime.delta.conflicts import retry_conflicts
from finml.runtime.delta.schemas import (
    align_arrow,
    arrow_nullable,
    conform,
    nullable,
    spark_to_arrow,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_REBASES = 20  # delta-rs' own retries of an append onto newer versions


class RsWrites:
    """The write half of :class:`~finml.runtime.delta.rs.DeltaRsEngine` (a mixin: it uses
    the engine's ``exists``, ``schema``, ``version`` and ``txn_version``)."""

    exists: Callable[[TableRef], bool]
    schema: Callable[[TableRef], StructType]
    version: Callable[[TableRef], int]
    txn_version: Callable[[TableRef, str], int | None]

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
        # Appends may rebase onto commits that landed meanwhile (delta-rs' conflict checker
        # still refuses a concurrent commit of the same txn app id); an overwrite must
        # replace exactly what it read, so any concurrent commit fails it and it is redone.
        props = _Commit(metadata, txn, rebase=mode == "append" and predicate is None)
        if isinstance(data, pa.Table):
            return self._retrying(
                ref,
                txn,
                lambda table: self._write_arrow(
                    ref, table, data, mode, predicate, partition_by, schema_evolution, props
                ),
            )
        if txn is not None and self._txn_done(ref, txn):
            return WriteResult(str(ref), self.version(ref), skipped=True)
        data, _ = self._conform(ref, data, schema_evolution)
        if predicate is not None:
            arrow = arrow_nullable(data.toArrow())
            return self._retrying(
                ref,
                txn,
                lambda table: self._write_arrow(
                    ref, table, arrow, mode, predicate, partition_by, schema_evolution, props
                ),
            )
        return self._write_files(ref, data, mode, partition_by, txn, props)

    def _txn_done(self, ref: TableRef, txn: Txn) -> bool:
        return txn.done_by(self.txn_version(ref, txn.app_id))

    def _open(self, ref: TableRef) -> DeltaTable | None:
        """The latest snapshot, or None if there is no table yet."""
        try:
            return DeltaTable(ref.location)
        except TableNotFoundError:
            return None

    def _retrying(
        self,
        ref: TableRef,
        txn: Txn | None,
        attempt: Callable[[DeltaTable | None], WriteResult],
        on_skip: Callable[[], None] | None = None,
    ) -> WriteResult:
        """Run ``attempt`` on a fresh snapshot until it commits or its txn is found done.

        The txn check and the commit use the same snapshot, and a commit carrying the same
        txn app id that lands after it fails ours, so a batch is never committed twice.
        """

        def once() -> WriteResult:
            table = self._open(ref)
            done = table is not None and txn is not None
            if done and txn.done_by(table.transaction_version(txn.app_id)):  # type: ignore[union-attr]
                if on_skip is not None:
                    on_skip()
                return WriteResult(str(ref), table.version(), skipped=True)  # type: ignore[union-attr]
            return attempt(table)

        return retry_conflicts(str(ref), once, _is_conflict)

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
        txn: Txn | None,
        props: _Commit,
    ) -> WriteResult:
        root = Path(ref.location)
        root.mkdir(parents=True, exist_ok=True)
        existing = self._open(ref)
        if existing is not None:
            partition_by = tuple(existing.metadata().partition_columns)
        actions = files.stage_and_collect(df, root, partition_by)
        rows = sum(_num_records(a) for a in actions)
        schema = nullable(df.schema)

        def commit(table: DeltaTable | None) -> WriteResult:
            if table is None:
                create_table_with_add_actions(
                    ref.location,
                    Schema.from_arrow(spark_to_arrow(schema)),
                    actions,
                    mode="error",
                    partition_by=list(partition_by) or None,
                    name=ref.name.table,
                    configuration=TABLE_PROPERTIES,
                    commit_properties=props.properties(creating=True),
                )
                return WriteResult(str(ref), self.version(ref), rows)
            known = {f.name.lower() for f in table.schema().fields}
            new_fields = [f for f in schema if f.name.lower() not in known]
            if new_fields:  # conform() allowed them: schema evolution
                added = Schema.from_arrow(spark_to_arrow(StructType(new_fields)))
                table.alter.add_columns(list(added.fields))
                table = DeltaTable(ref.location)
            table.create_write_transaction(
                list(actions),  # typed as deltalake's list of add-or-remove actions
                mode=mode,
                schema=table.schema(),
                partition_by=list(partition_by) or None,
                commit_properties=props.properties(creating=False),
            )
            return WriteResult(str(ref), self.version(ref), rows)

        try:
            return self._retrying(ref, txn, commit, on_skip=lambda: files.discard(root, actions))
        except Exception:
            files.discard(root, actions)
            raise

    def _write_arrow(
        self,
        ref: TableRef,
        table: DeltaTable | None,
        data: pa.Table,
        mode: WriteMode,
        predicate: str | None,
        partition_by: tuple[str, ...],
        schema_evolution: bool,
        props: _Commit,
    ) -> WriteResult:
        Path(ref.location).mkdir(parents=True, exist_ok=True)
        if table is not None:
            target = pa.schema(table.schema().to_arrow())
            data = align_arrow(data, target, str(ref), schema_evolution)
        else:
            data = arrow_nullable(data)
        try:
            # deltalake's overloads pair `predicate` with mode="overwrite" only; its
            # implementation takes every mode (and ignores a None predicate).
            write_deltalake(  # type: ignore[misc]
                table if table is not None else ref.location,
                data,
                # No table at our snapshot: create it, and fail (retrying on the table a
                # concurrent writer created meanwhile) rather than append to it unchecked.
                mode=mode if table is not None else "error",  # type: ignore[arg-type]
                predicate=datafusion_sql(predicate),
                partition_by=(list(partition_by) or None) if table is None else None,
                schema_mode="merge" if schema_evolution and table is not None else None,
                name=None if table is not None else ref.name.table,
                configuration=None if table is not None else TABLE_PROPERTIES,
                commit_properties=props.properties(creating=table is None),
            )
        except Exception as exc:
            if _is_conflict(exc):
                raise
            raise DeltaEngineError(f"table {ref}: {mode} failed: {exc}") from exc
        # The write moved ``table`` to its own commit (no second open of the log).
        version = table.version() if table is not None else self.version(ref)
        return WriteResult(str(ref), version, data.num_rows)

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
        if txn is not None and self._txn_done(ref, txn):
            return WriteResult(str(ref), self.version(ref), skipped=True)
        props = _Commit(metadata, txn, rebase=False)
        if not isinstance(source, pa.Table):
            source, _ = self._conform(ref, source, schema_evolution)
            source = source.toArrow()
        arrow = source

        def attempt(table: DeltaTable | None) -> WriteResult:
            if table is None:
                # Nothing to match: a merge into a missing table is its first write.
                return self._write_arrow(ref, None, arrow, "append", None, (), False, props)
            return self._merge_into(ref, table, arrow, spec, schema_evolution, props)

        return self._retrying(ref, txn, attempt)

    def _merge_into(
        self,
        ref: TableRef,
        table: DeltaTable,
        source: pa.Table,
        spec: MergeSpec,
        schema_evolution: bool,
        props: _Commit,
    ) -> WriteResult:
        target = pa.schema(table.schema().to_arrow())
        source = align_arrow(source, target, str(ref), schema_evolution)
        merger = table.merge(
            source,
            predicate=" AND ".join(f't."{k}" = s."{k}"' for k in spec.keys),
            source_alias="s",
            target_alias="t",
            merge_schema=schema_evolution,
            commit_properties=props.properties(creating=False),
        )
        if spec.delete_condition:
            merger = merger.when_matched_delete(predicate=datafusion_sql(spec.delete_condition))
        matched = datafusion_sql(spec.matched_condition)
        if spec.update_columns is None:
            merger = merger.when_matched_update_all(predicate=matched)
        elif spec.update_columns:
            merger = merger.when_matched_update(
                updates={c: f's."{c}"' for c in spec.update_columns}, predicate=matched
            )
        if spec.insert:
            merger = merger.when_not_matched_insert_all(
                predicate=datafusion_sql(spec.insert_condition)
            )
        if spec.delete_not_matched_by_source:
            merger = merger.when_not_matched_by_source_delete()
        try:
            metrics = merger.execute()
        except Exception as exc:
            if _is_conflict(exc):
                raise
            raise DeltaEngineError(f"table {ref}: merge failed: {exc}") from exc
        return WriteResult(
            str(ref), self.version(ref), source.num_rows, metrics=merge_metrics(dict(metrics))
        )


_BACKTICKED = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def datafusion_sql(condition: str | None) -> str | None:
    """A Spark SQL condition for delta-rs (DataFusion): backtick-quoted identifiers become
    double-quoted. Identifiers are validated names, so nothing else needs rewriting."""
    return None if condition is None else _BACKTICKED.sub(r'"\1"', condition)


@dataclass(frozen=True)
class _Commit:
    """What a write's commit carries: our metadata, its txn, and whether delta-rs may
    rebase it onto versions that landed meanwhile.

    Only an append to an existing table may rebase (delta-rs' conflict checker still
    refuses a concurrent commit of the same txn app id). A table's creation never does --
    delta-rs would re-create the table on top of a concurrent creator's, data and all --
    and neither does an overwrite or a merge, which must change exactly what they read.
    """

    metadata: dict[str, str]
    txn: Txn | None
    rebase: bool

    def properties(self, *, creating: bool) -> CommitProperties:
        transactions = (
            [Transaction(app_id=self.txn.app_id, version=self.txn.version)] if self.txn else None
        )
        # Our metadata goes where delta-spark puts it, the commit's ``userMetadata`` JSON:
        # a custom top-level key that is also a commitInfo field Spark knows (``job``,
        # ``notebook``) would make the table's history unreadable to Spark.
        user = json.dumps(self.metadata, sort_keys=True) if self.metadata else None
        return CommitProperties(
            custom_metadata={"userMetadata": user} if user else None,
            max_commit_retries=_REBASES if self.rebase and not creating else 0,
            app_transactions=transactions,
        )


def _is_conflict(exc: BaseException) -> bool:
    """True when a commit lost a race: a concurrent commit invalidated it, or created the
    table first. The write is then retried on a fresh snapshot."""
    if isinstance(exc, CommitFailedError):
        return True
    return isinstance(exc, DeltaError) and "already exists" in str(exc)


def _num_records(action: Any) -> int:
    return int(json.loads(action.stats)["numRecords"])
