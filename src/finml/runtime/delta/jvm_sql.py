"""Delta SQL for the JVM engine: statements built from validated names and specs.

Identifiers reach these statements only after :func:`~finml.names.validate_identifier`
(table names, columns, merge keys); conditions come from FinML's own specs, never from
user input.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.names import quote
from finml.runtime.delta.base import HistoryEntry, MergeSpec

if TYPE_CHECKING:
    from pyspark.sql import Row, SparkSession
    from pyspark.sql.types import StructType

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


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_table_sql(
    target: str,
    schema: StructType,
    partition_by: tuple[str, ...],
    comment: str | None,
    properties: dict[str, str],
    *,
    replace: bool = False,
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` (``REPLACE TABLE`` with ``replace``) with every column
    nullable (see ``schemas.nullable``). Not ``CREATE OR REPLACE``: with Delta 4.4 that
    statement leaves an existing path table (``delta.`<path>```) untouched, as measured."""
    columns = ", ".join(f"{quote(f.name)} {f.dataType.simpleString()}" for f in schema)
    verb = "REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    statement = f"{verb} {target} ({columns}) USING DELTA"
    if partition_by:
        statement += f" PARTITIONED BY ({', '.join(quote(c) for c in partition_by)})"
    if comment:
        statement += f" COMMENT {_literal(comment)}"
    if properties:
        pairs = ", ".join(f"{_literal(k)} = {_literal(v)}" for k, v in sorted(properties.items()))
        statement += f" TBLPROPERTIES ({pairs})"
    return statement


def merge_sql(target: str, source_view: str, spec: MergeSpec, *, evolve: bool) -> str:
    """The ``MERGE INTO`` of :class:`MergeSpec` (target alias ``t``, source alias ``s``)."""
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in spec.keys)
    evolution = " WITH SCHEMA EVOLUTION" if evolve else ""
    clauses = []
    if spec.delete_condition:
        clauses.append(f"WHEN MATCHED AND ({spec.delete_condition}) THEN DELETE")
    matched = f" AND ({spec.matched_condition})" if spec.matched_condition else ""
    if spec.update_columns is None:
        clauses.append(f"WHEN MATCHED{matched} THEN UPDATE SET *")
    elif spec.update_columns:
        sets = ", ".join(f"t.{quote(c)} = s.{quote(c)}" for c in spec.update_columns)
        clauses.append(f"WHEN MATCHED{matched} THEN UPDATE SET {sets}")
    if spec.insert:
        condition = f" AND ({spec.insert_condition})" if spec.insert_condition else ""
        clauses.append(f"WHEN NOT MATCHED{condition} THEN INSERT *")
    if spec.delete_not_matched_by_source:
        clauses.append("WHEN NOT MATCHED BY SOURCE THEN DELETE")
    return f"MERGE{evolution} INTO {target} AS t USING `{source_view}` AS s ON {on} " + " ".join(
        clauses
    )


def history_entry(row: Row) -> HistoryEntry:
    """A ``DESCRIBE HISTORY`` row as a :class:`HistoryEntry` (our metadata, written as the
    commit's ``userMetadata`` JSON, is unpacked into ``metadata``)."""
    metadata: dict[str, Any] = {}
    user = row["userMetadata"]
    if user:
        try:
            parsed = json.loads(user)
            metadata = parsed if isinstance(parsed, dict) else {"userMetadata": user}
        except ValueError:
            metadata = {"userMetadata": user}
    timestamp = row["timestamp"]
    if isinstance(timestamp, datetime) and timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return HistoryEntry(
        version=int(row["version"]),
        timestamp=timestamp,
        operation=str(row["operation"]),
        parameters=dict(row["operationParameters"] or {}),
        metadata=metadata,
        metrics=dict(row["operationMetrics"] or {}),
    )


@contextlib.contextmanager
def session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """Set session confs for one statement and put back what was there after it (unset
    when nothing was), so no later statement inherits them (a txn id left behind would
    make the next write a silent no-op)."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, previous in before.items():
            if previous is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, previous)
