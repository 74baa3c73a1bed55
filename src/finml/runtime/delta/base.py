"""The engine-neutral part of the Delta table layer: requests, results and the interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from finml.errors import DeltaEngineError
from finml.names import TableName, validate_identifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery
    from pyspark.sql.types import StructType

WriteMode = Literal["append", "overwrite"]


@dataclass(frozen=True)
class TableRef:
    """Where a table lives: its three-part name and, locally, its directory."""

    name: TableName
    location: str

    def __str__(self) -> str:
        return str(self.name)


@dataclass(frozen=True)
class Txn:
    """An idempotent-write marker: a write with an ``(app_id, version)`` already committed
    to the table (or a lower version) is skipped. Same idea as Delta's
    ``txnAppId`` / ``txnVersion`` for ``foreachBatch`` sinks."""

    app_id: str
    version: int

    def __post_init__(self) -> None:
        if not self.app_id or len(self.app_id) > 200:
            raise ValueError(f"txn app_id: expected 1-200 characters, got {self.app_id!r}")
        if self.version < 0:
            raise ValueError(f"txn version: expected >= 0, got {self.version}")

    def done_by(self, committed: int | None) -> bool:
        """True if a committed version ``committed`` already covers this write."""
        return committed is not None and committed >= self.version


@dataclass(frozen=True)
class MergeSpec:
    """An upsert on ``keys``: target alias ``t``, source alias ``s`` in conditions.

    ``update_columns=None`` updates every column on a match, ``()`` leaves matched rows as
    they are (an insert-only merge: what keys a table's rows exactly once); ``insert=False``
    skips inserts; ``delete_condition`` deletes matched rows where it holds (before updates);
    ``delete_not_matched_by_source`` deletes target rows the source does not have.
    """

    keys: tuple[str, ...]
    matched_condition: str | None = None
    update_columns: tuple[str, ...] | None = None
    insert: bool = True
    insert_condition: str | None = None
    delete_condition: str | None = None
    delete_not_matched_by_source: bool = False

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("merge keys: expected at least one key column, got none")
        for key in (*self.keys, *(self.update_columns or ())):
            validate_identifier(key, "merge column")


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the table version after it, and whether it was skipped."""

    table: str
    version: int
    rows: int | None = None
    skipped: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


# A merge's row counts under one name on both engines (delta-rs and Delta SQL name them
# differently); engine-specific metrics are kept beside them.
_MERGE_COUNTS = {
    "rows_inserted": ("num_target_rows_inserted", "num_inserted_rows"),
    "rows_updated": ("num_target_rows_updated", "num_updated_rows"),
    "rows_deleted": ("num_target_rows_deleted", "num_deleted_rows"),
}


# Properties of every table FinML creates, on either engine. Opening a table replays the
# JSON commits since its last checkpoint; delta-spark checkpoints every 10 commits by
# default, delta-rs every 100, so audit tables that only delta-rs appends to (job_runs,
# alerts, the quality log) replayed up to 99 commits per open (job_runs at 85 commits:
# 79 ms, 14 ms after a checkpoint). Recorded in the table, the interval binds both engines.
TABLE_PROPERTIES = {"delta.checkpointInterval": "10"}


# Rows a caller may collect to the driver as Arrow for a write: the delta-spark engine then
# commits them with delta-rs where it can (a local table it can write), in milliseconds
# instead of a Spark job and a JVM commit of seconds.
DRIVER_ROWS = 100_000


def collect_small(df: DataFrame) -> pa.Table | None:
    """``df`` as Arrow on the driver when it has at most :data:`DRIVER_ROWS` rows, in one
    Spark job that reads at most ``DRIVER_ROWS + 1`` of them; else None, and the caller
    keeps its Spark path."""
    rows = df.limit(DRIVER_ROWS + 1).toArrow()
    return rows if rows.num_rows <= DRIVER_ROWS else None


def utc_literal(value: Any) -> str:
    """A timestamp (datetime, pandas Timestamp or ISO string; naive means UTC) as the ISO
    literal of its UTC instant, which ``Table.to_arrow(where=...)`` predicates compare with a
    timestamp column on delta-rs and Spark alike."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return str(utc.to_pydatetime().isoformat())


def within(column: str, values: pa.ChunkedArray | pa.Array, step: timedelta) -> str:
    """A ``Table.to_arrow(where=...)`` predicate: ``column`` from the least of ``values``
    to the greatest plus ``step`` (exclusive), as ISO literals delta-rs and Spark both
    read; ``FALSE`` when ``values`` has none."""
    import pyarrow.compute as pc

    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return "FALSE"
    return f"{column} >= '{low.isoformat()}' AND {column} < '{(high + step).isoformat()}'"


def merge_metrics(native: dict[str, Any]) -> dict[str, Any]:
    """``native`` merge metrics plus ``rows_inserted`` / ``rows_updated`` / ``rows_deleted``."""
    metrics = dict(native)
    for name, sources in _MERGE_COUNTS.items():
        value = next((native[s] for s in sources if native.get(s) is not None), None)
        if value is not None:
            metrics[name] = int(value)
    return metrics


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    timestamp: datetime
    operation: str
    parameters: dict[str, Any]
    metadata: dict[str, Any]
    metrics: dict[str, Any]


class DeltaEngine(ABC):
    """One implementation per Delta engine; the :class:`~finml.runtime.delta.Table`
    facade is the public API."""

    name: str
    streams: bool = False  # has a Delta streaming source (read_stream)

    def __init__(self, spark: SparkSession | None) -> None:
        self.spark = spark

    def read_stream(
        self, ref: TableRef, starting_version: int | None, options: dict[str, str]
    ) -> DataFrame:
        """The table as a Delta streaming source (engines with ``streams`` only)."""
        raise DeltaEngineError(
            f"table {ref}: the {self.name} engine has no Delta streaming source; "
            "use the delta-spark engine"
        )

    def write_stream(
        self, ref: TableRef, frame: DataFrame, checkpoint: str, interval: str | None
    ) -> StreamingQuery:
        """Start a streaming append to the table (engines with ``streams`` only)."""
        raise DeltaEngineError(
            f"table {ref}: the {self.name} engine has no Delta streaming sink; "
            "use the delta-spark engine"
        )

    @abstractmethod
    def exists(self, ref: TableRef) -> bool: ...

    @abstractmethod
    def create(
        self, ref: TableRef, schema: StructType, partition_by: tuple[str, ...], comment: str | None
    ) -> bool: ...

    @abstractmethod
    def read(self, ref: TableRef, version: int | None, timestamp: datetime | None) -> DataFrame: ...

    @abstractmethod
    def to_arrow(
        self, ref: TableRef, version: int | None, where: str | None = None
    ) -> pa.Table: ...

    @abstractmethod
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
    ) -> WriteResult: ...

    @abstractmethod
    def merge(
        self,
        ref: TableRef,
        source: DataFrame | pa.Table,
        spec: MergeSpec,
        *,
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str],
    ) -> WriteResult: ...

    @abstractmethod
    def read_appended(self, ref: TableRef, since: int | None, until: int) -> DataFrame: ...

    @abstractmethod
    def delete(self, ref: TableRef, predicate: str | None) -> WriteResult: ...

    @abstractmethod
    def drop(self, ref: TableRef) -> bool: ...

    @abstractmethod
    def replace(
        self,
        ref: TableRef,
        schema: StructType | None,
        partition_by: tuple[str, ...] | None,
        comment: str | None,
    ) -> WriteResult:
        """``CREATE OR REPLACE TABLE``: empty, with ``schema`` / ``partition_by`` /
        ``comment`` (None: the table's current one), its history and properties kept."""

    @abstractmethod
    def version(self, ref: TableRef) -> int: ...

    @abstractmethod
    def txn_version(self, ref: TableRef, app_id: str) -> int | None: ...

    @abstractmethod
    def history(self, ref: TableRef, limit: int | None) -> list[HistoryEntry]: ...

    @abstractmethod
    def schema(self, ref: TableRef) -> StructType: ...

    @abstractmethod
    def count(self, ref: TableRef) -> int: ...

    @abstractmethod
    def optimize(self, ref: TableRef) -> dict[str, Any]: ...

    @abstractmethod
    def vacuum(self, ref: TableRef, retention_hours: int) -> list[str]: ...
