"""``Table`` and ``DeltaTables``: one Delta table API over two engines (JVM ``delta-spark``
and ``delta-rs``), re-exported by :mod:`finml.runtime.delta`.

>>> tables = DeltaTables.from_config(config, spark)          # doctest: +SKIP
>>> trades = tables.table("bronze_trades")                     # doctest: +SKIP
>>> trades.append(df, txn=Txn("ingest", 7))                    # doctest: +SKIP
>>> trades.merge(updates, MergeSpec(keys=("trade_id",)))       # doctest: +SKIP
>>> trades.read(version=3)                                     # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finml.errors import TableNotFound
from finml.log import get_logger
from finml.names import TableName, validate_identifier
from finml.runtime.delta.base import (
    DeltaEngine,
    HistoryEntry,
    MergeSpec,
    TableRef,
    Txn,
    WriteMode,
    WriteResult,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery
    from pyspark.sql.types import StructType

    from finml.config import ProjectConfig

log = get_logger("runtime.delta")


def make_engine(name: str, spark: SparkSession | None) -> DeltaEngine:
    """The engine called ``name`` (``delta-spark`` or ``delta-rs``)."""
    if name == "delta-spark":
        from finml.runtime.delta.jvm import DeltaSparkEngine

        return DeltaSparkEngine(spark)
    from finml.runtime.delta.rs import DeltaRsEngine

    return DeltaRsEngine(spark)


class Table:
    """A handle on one Delta table; cheap to create, does no I/O until used."""

    def __init__(self, engine: DeltaEngine, ref: TableRef) -> None:
        self._engine = engine
        self.ref = ref

    @property
    def name(self) -> TableName:
        return self.ref.name

    @property
    def location(self) -> str:
        return self.ref.location

    def __repr__(self) -> str:
        return f"Table({self.ref.name}, engine={self._engine.name})"

    # ---- metadata --------------------------------------------------------------------
    def exists(self) -> bool:
        return self._engine.exists(self.ref)

    def create(
        self, schema: StructType, partition_by: tuple[str, ...] = (), comment: str | None = None
    ) -> bool:
        """Create the table if it is missing; returns True if it was created."""
        for column in partition_by:
            validate_identifier(column, "partition column")
        for field in schema:
            validate_identifier(field.name, f"column of {self.ref}")
        created = self._engine.create(self.ref, schema, partition_by, comment)
        if created:
            log.info("table_created", table=str(self.ref), location=self.ref.location)
        return created

    def version(self) -> int:
        return self._engine.version(self.ref)

    def schema(self) -> StructType:
        return self._engine.schema(self.ref)

    def count(self) -> int:
        """Rows in the latest version (from the log's statistics where available)."""
        return self._engine.count(self.ref)

    def history(self, limit: int | None = None) -> list[HistoryEntry]:
        """Commits, newest first, with operation, parameters, metrics and our metadata."""
        return self._engine.history(self.ref, limit)

    def txn_version(self, app_id: str) -> int | None:
        """The last committed version of idempotent writer ``app_id`` (None if never)."""
        return self._engine.txn_version(self.ref, app_id)

    # ---- reads -----------------------------------------------------------------------
    def read(self, version: int | None = None, timestamp: datetime | None = None) -> DataFrame:
        """The table as a Spark DataFrame: latest, or as of ``version`` / ``timestamp``.

        Raises:
            TableNotFound: the table does not exist.
        """
        if version is not None and timestamp is not None:
            raise ValueError("read: expected version or timestamp, got both")
        return self._engine.read(self.ref, version, timestamp)

    def read_appended(self, since: int | None, until: int | None = None) -> DataFrame:
        """Rows added by append commits after version ``since`` up to ``until`` (latest).

        ``since=None`` reads the whole table at ``until``. This is how pipeline stages read
        only new upstream data (like a Delta streaming source).

        Raises:
            DeltaEngineError: a commit in the range removed data (needs a full refresh).
        """
        until = self.version() if until is None else until
        return self._engine.read_appended(self.ref, since, until)

    def appended_rows(self, since: int | None, until: int) -> int | None:
        """Rows :meth:`read_appended` ``(since, until)`` holds, from the log's file
        statistics of a local table (no data read); None where that is not known cheaply
        (a catalog or remote table, a file without statistics, a commit that removed
        data)."""
        from finml.runtime.delta.jvm_writes import local_path

        local = local_path(self.ref)
        if local is None:
            return None
        from finml.runtime.delta.commits import appended_records

        return appended_records(local, -1 if since is None else since, until)

    @property
    def streams(self) -> bool:
        """True if the engine offers a Delta streaming source (:meth:`read_stream`)."""
        return self._engine.streams

    def read_stream(
        self, starting_version: int | None = None, options: dict[str, str] | None = None
    ) -> DataFrame:
        """The table as a Delta streaming source: its snapshot then every appended commit,
        or the commits from ``starting_version`` on; ``options`` are the source's
        (``maxFilesPerTrigger``, ...).

        Raises:
            DeltaEngineError: the engine has no streaming source (delta-rs).
        """
        return self._engine.read_stream(self.ref, starting_version, options or {})

    def write_stream(
        self, frame: DataFrame, checkpoint: str, *, interval: str | None = None
    ) -> StreamingQuery:
        """Start appending the streaming ``frame`` to this table through Delta's sink,
        exactly once per micro-batch (the sink records each batch's id in the table), with
        its checkpoint at ``checkpoint``: every ``interval`` (``"30 seconds"``), else what
        is available now, then stop.

        Raises:
            DeltaEngineError: the engine has no streaming sink (delta-rs).
        """
        return self._engine.write_stream(self.ref, frame, checkpoint, interval)

    def to_arrow(self, version: int | None = None, where: str | None = None) -> pa.Table:
        """The table as an Arrow table (small tables; no Spark needed on delta-rs), or its
        rows matching ``where``: a SQL predicate both delta-rs (DataFusion) and Spark
        read, e.g. ``"ts >= '2024-01-02T14:30:00+00:00'"``, which also skips the files
        whose statistics rule them out."""
        return self._engine.to_arrow(self.ref, version, where)

    # ---- writes ----------------------------------------------------------------------
    def append(
        self,
        data: DataFrame | pa.Table,
        *,
        txn: Txn | None = None,
        partition_by: tuple[str, ...] = (),
        schema_evolution: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Append ``data``; with ``txn``, a retried write of the same version adds nothing."""
        return self._write(data, "append", None, partition_by, schema_evolution, txn, metadata)

    def overwrite(
        self,
        data: DataFrame | pa.Table,
        *,
        predicate: str | None = None,
        partition_by: tuple[str, ...] = (),
        schema_evolution: bool = False,
        txn: Txn | None = None,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Replace the whole table, or only the rows matching ``predicate`` (SQL)."""
        return self._write(
            data, "overwrite", predicate, partition_by, schema_evolution, txn, metadata
        )

    def merge(
        self,
        source: DataFrame | pa.Table,
        spec: MergeSpec,
        *,
        schema_evolution: bool = False,
        txn: Txn | None = None,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Upsert ``source`` on ``spec.keys`` (see :class:`MergeSpec`); with ``txn`` a
        retried merge of the same version is skipped."""
        result = self._engine.merge(
            self.ref,
            source,
            spec,
            schema_evolution=schema_evolution,
            txn=txn,
            metadata=metadata or {},
        )
        log.debug("table_merged", table=str(self.ref), version=result.version)
        return result

    def delete(self, predicate: str | None = None) -> WriteResult:
        return self._engine.delete(self.ref, predicate)

    def drop(self) -> bool:
        """Remove the table -- its folder locally, ``DROP TABLE`` for a Unity Catalog name;
        True if it existed. A full refresh drops its targets and rebuilds them."""
        dropped = self._engine.drop(self.ref)
        if dropped:
            log.info("table_dropped", table=str(self.ref))
        return dropped

    def replace(
        self,
        schema: StructType | None = None,
        *,
        partition_by: tuple[str, ...] | None = None,
        comment: str | None = None,
    ) -> WriteResult:
        """Empty the table in one commit (``CREATE OR REPLACE TABLE``), with ``schema``,
        ``partition_by`` and ``comment`` or, where None, its current ones. Unlike
        :meth:`drop`, the table stays the same table: its history (time travel to before
        the replace), its properties and, in Unity Catalog, its grants and lineage. A full
        refresh replaces its targets and recomputes them.

        Raises:
            TableNotFound: the table does not exist and no ``schema`` was given.
        """
        for column in partition_by or ():
            validate_identifier(column, "partition column")
        result = self._engine.replace(self.ref, schema, partition_by, comment)
        log.info("table_replaced", table=str(self.ref), version=result.version)
        return result

    def optimize(self) -> dict[str, Any]:
        return self._engine.optimize(self.ref)

    def vacuum(self, retention_hours: int = 168) -> list[str]:
        return self._engine.vacuum(self.ref, retention_hours)

    def _write(
        self,
        data: DataFrame | pa.Table,
        mode: WriteMode,
        predicate: str | None,
        partition_by: tuple[str, ...],
        schema_evolution: bool,
        txn: Txn | None,
        metadata: dict[str, str] | None,
    ) -> WriteResult:
        for column in partition_by:
            validate_identifier(column, "partition column")
        result = self._engine.write(
            self.ref,
            data,
            mode,
            predicate=predicate,
            partition_by=partition_by,
            schema_evolution=schema_evolution,
            txn=txn,
            metadata=metadata or {},
        )
        log.debug(
            "table_written",
            table=str(self.ref),
            mode=mode,
            version=result.version,
            skipped=result.skipped,
        )
        return result


class DeltaTables:
    """Resolves names to tables for one engine and one warehouse (or Unity Catalog)."""

    def __init__(
        self,
        engine: DeltaEngine,
        warehouse: Path | None,
        catalog: str,
        schema: str,
    ) -> None:
        self.engine = engine
        self.warehouse = Path(warehouse) if warehouse is not None else None
        self.catalog = validate_identifier(catalog, "catalog name").lower()
        self.schema = validate_identifier(schema, "schema name").lower()

    @classmethod
    def from_config(cls, config: ProjectConfig, spark: SparkSession | None) -> DeltaTables:
        """Tables of ``config``'s environment, on the engine chosen for this process.

        Without a Spark session (CLI listings, driver-side audit writes) delta-rs is used.
        """
        from finml.runtime.spark import choose_delta_engine

        # Spark-free readers and small driver-side writes use delta-rs whatever the session
        # engine: the tables are the same Delta tables.
        engine_name = (
            "delta-rs" if spark is None else choose_delta_engine(spark, config.delta_engine)
        )
        uses_uc = config.workspace == "databricks" and engine_name == "delta-spark"
        return cls(
            make_engine(engine_name, spark),
            None if uses_uc else config.warehouse_dir,
            config.catalog,
            config.db_schema,
        )

    @property
    def engine_name(self) -> str:
        return self.engine.name

    def name(self, name: str | TableName) -> TableName:
        if isinstance(name, TableName):
            return name
        return TableName.parse(name, self.catalog, self.schema)

    def table(self, name: str | TableName) -> Table:
        """The table called ``name`` (``table``, ``schema.table`` or three-part)."""
        full = self.name(name)
        location = str(full.path(self.warehouse).resolve()) if self.warehouse else str(full)
        return Table(self.engine, TableRef(full, location))

    def require(self, name: str | TableName) -> Table:
        """Like :meth:`table`, but raises :class:`TableNotFound` if it does not exist."""
        table = self.table(name)
        if not table.exists():
            raise TableNotFound(f"table {table.name}: expected it to exist at {table.location}")
        return table

    def list(self, catalog: str | None = None, schema: str | None = None) -> list[Table]:
        """Existing tables of one schema, sorted by name."""
        catalog = validate_identifier(catalog or self.catalog, "catalog name").lower()
        schema = validate_identifier(schema or self.schema, "schema name").lower()
        if self.warehouse is None:
            spark = self.engine.spark
            rows = spark.sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()  # type: ignore[union-attr]
            # SHOW TABLES also lists the session's temporary views: they are not tables
            return [
                self.table(TableName(catalog, schema, r["tableName"]))
                for r in rows
                if not r["isTemporary"]
            ]
        folder = self.warehouse / catalog / schema
        if not folder.is_dir():
            return []
        tables = [
            self.table(TableName(catalog, schema, p.name))
            for p in sorted(folder.iterdir())
            if (p / "_delta_log").is_dir()
        ]
        return tables
