"""The feature store: a Delta feature table with point-in-time training sets.

``trade_features`` is keyed by ``(symbol, ts, trade_id)`` and upserted by MERGE; each row
carries ``_available_at``, the time its current values were written. A row whose values
do not change keeps its old ``_available_at`` (the MERGE only updates changed rows).

Point-in-time: :meth:`FeatureStoreManager.create_training_set` reads the feature table as it
was at ``as_of`` (Delta time travel to the last commit at or before ``as_of``) and keeps only
rows with ``_available_at <= as_of``, so a late-arriving update written after ``as_of`` can
never leak into a training set built as of an earlier time. Labels that carry a ``trade_id``
join on the full key; labels without one get, per symbol, the latest feature row with
``ts <=`` the label's ``ts`` (an as-of join).

On Databricks, where ``databricks.feature_engineering`` is importable, upserts also go through
its ``FeatureEngineeringClient`` so the table shows up in the Feature Store UI; locally this
Delta-backed implementation is the whole store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
from pyspark.sql import Window
from pyspark.sql import functions as F

from finml.errors import DataError
from finml.features import KEY_COLUMNS, LABEL_COLUMN
from finml.log import get_logger
from finml.runtime.delta import DRIVER_ROWS, MergeSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.runtime.delta import DeltaTables, Table, Txn, WriteResult

log = get_logger("features.store")

FEATURE_TABLE = "trade_features"
AVAILABLE_AT = "_available_at"
VERSION_COLUMN = "_feature_table_version"


class _FeatureClient(Protocol):
    """What FinML calls of Databricks' ``FeatureEngineeringClient`` (not installed here)."""

    def write_table(self, *, name: str, df: DataFrame, mode: str) -> object: ...


@dataclass(frozen=True)
class TrainingSet:
    """Labelled feature rows and the feature-table version they were read from."""

    df: DataFrame
    feature_table_version: int
    as_of: datetime | None


class FeatureStoreManager:
    """Owns one feature table; create it with the project's :class:`DeltaTables`."""

    def __init__(self, tables: DeltaTables, table: str = FEATURE_TABLE) -> None:
        self.tables = tables
        self.table: Table = tables.table(table)
        self._client = _feature_engineering_client()

    # ---- writes ----------------------------------------------------------------------
    def upsert(
        self,
        features: DataFrame | pa.Table,
        available_at: datetime | None = None,
        *,
        txn: Txn | None = None,
        rows_hint: int | None = None,
    ) -> WriteResult:
        """MERGE ``features`` (keys + feature columns; a Spark DataFrame or an Arrow table
        the driver holds) into the table on the keys.

        Changed rows are updated, new rows inserted; both get ``_available_at`` =
        ``available_at`` (default now, UTC). Unchanged rows are left alone. With ``txn`` a
        retried write of the same batch is skipped. ``rows_hint``, the number of rows of
        a DataFrame ``features`` when the caller knows it: at most ``DRIVER_ROWS`` are
        collected and merged from the driver where the engine can, as an Arrow table is.

        Raises:
            DataError: a key column is missing from ``features``.
        """
        columns = features.column_names if isinstance(features, pa.Table) else features.columns
        missing = [k for k in KEY_COLUMNS if k not in columns]
        if missing:
            raise DataError(f"feature upsert: expected key columns {missing}, got {columns}")
        stamp = available_at or datetime.now(UTC)
        rows = _stamped(features, stamp)
        if not self.table.exists():
            result = self.table.overwrite(rows, txn=txn)
        else:
            values = [c for c in columns if c not in KEY_COLUMNS and c != AVAILABLE_AT]
            known = set(self.table.schema().fieldNames())
            changed = " OR ".join(f"(t.`{c}` IS DISTINCT FROM s.`{c}`)" for c in values)
            # A new feature column changes every row (and t.<new> cannot be referenced yet).
            condition = changed if changed and set(values) <= known else None
            spec = MergeSpec(keys=KEY_COLUMNS, matched_condition=condition)
            small = rows_hint is not None and rows_hint <= DRIVER_ROWS
            source = rows.toArrow() if small and not isinstance(rows, pa.Table) else rows
            result = self.table.merge(source, spec, schema_evolution=True, txn=txn)
        if self._client is not None:  # pragma: no cover - Databricks only
            from pyspark.sql import SparkSession

            frame = (
                SparkSession.active().createDataFrame(rows) if isinstance(rows, pa.Table) else rows
            )
            self._client.write_table(name=str(self.table.name), df=frame, mode="merge")
        log.info("features_upserted", table=str(self.table.name), version=result.version)
        return result

    # ---- reads -----------------------------------------------------------------------
    def version_as_of(self, as_of: datetime | None) -> int:
        """The table version a reader at ``as_of`` saw (latest if ``as_of`` is None).

        Raises:
            DataError: the table had no commit at or before ``as_of``.
        """
        if as_of is None:
            return self.table.version()
        as_of = _utc(as_of)
        versions = [h.version for h in self.table.history() if h.timestamp <= as_of]
        if not versions:
            raise DataError(
                f"table {self.table.name}: expected a commit at or before {as_of.isoformat()}, "
                "got none (the table is younger)"
            )
        return max(versions)

    def read_as_of(self, as_of: datetime | None) -> tuple[DataFrame, int]:
        """Feature rows available at ``as_of`` and the version they come from."""
        version = self.version_as_of(as_of)
        rows = self.table.read(version=version)
        if as_of is not None:
            rows = rows.where(F.col(AVAILABLE_AT) <= F.lit(_utc(as_of)).cast("timestamp"))
        return rows, version

    def create_training_set(
        self, labels: DataFrame, as_of: datetime | None = None, exclude: tuple[str, ...] = ()
    ) -> TrainingSet:
        """Join ``labels`` (symbol, ts[, trade_id], label) to the features available at
        ``as_of``; ``exclude`` drops feature columns (e.g. the inputs of a label rule).

        Returns a :class:`TrainingSet` whose rows are the labels with a feature row, plus
        ``_feature_table_version``.

        Raises:
            DataError: ``labels`` lacks symbol, ts or label; or no commit before ``as_of``.
        """
        needed = [c for c in ("symbol", "ts", LABEL_COLUMN) if c not in labels.columns]
        if needed:
            raise DataError(f"labels: expected columns {needed}, got {labels.columns}")
        features, version = self.read_as_of(as_of)
        features = features.drop(*exclude)
        if "trade_id" in labels.columns:
            joined = labels.join(features, list(KEY_COLUMNS), "inner")
        else:
            joined = _as_of_join(labels, features.drop("trade_id"))
        out = joined.withColumn(VERSION_COLUMN, F.lit(version).cast("long"))
        return TrainingSet(out, version, as_of)

    def get_latest_features(self, symbols: list[str] | None = None) -> DataFrame:
        """The newest feature row per symbol (all symbols if ``symbols`` is None)."""
        rows = self.table.read()
        if symbols is not None:
            rows = rows.where(F.col("symbol").isin(list(symbols)))
        newest = Window.partitionBy("symbol").orderBy(F.desc("ts"), F.desc("trade_id"))
        ranked = rows.withColumn("_rank", F.row_number().over(newest))
        return ranked.where(F.col("_rank") == 1).drop("_rank")


def _as_of_join(labels: DataFrame, features: DataFrame) -> DataFrame:
    """Per label, the latest feature row of its symbol with ``ts <=`` the label's ``ts``."""
    values = [c for c in features.columns if c not in ("symbol", "ts")]
    stamped = features.select(
        "symbol", "ts", F.lit(0).alias("_side"), F.struct(*values).alias("_f")
    )
    marked = labels.select("*", F.lit(1).alias("_side"))
    union = marked.unionByName(stamped, allowMissingColumns=True)
    # Features sort before labels at the same ts, so a label sees a feature of its own ts.
    upto = (
        Window.partitionBy("symbol")
        .orderBy("ts", "_side")
        .rowsBetween(Window.unboundedPreceding, 0)
    )
    filled = union.withColumn("_f", F.last("_f", ignorenulls=True).over(upto))
    found = filled.where((F.col("_side") == 1) & F.col("_f").isNotNull())
    return found.select(*labels.columns, *[F.col("_f")[c].alias(c) for c in values])


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _feature_engineering_client() -> _FeatureClient | None:
    try:  # only on Databricks runtimes
        from databricks.feature_engineering import FeatureEngineeringClient
    except ImportError:
        return None
    return FeatureEngineeringClient()  # pragma: no cover


def _stamped(features: DataFrame | pa.Table, stamp: datetime) -> DataFrame | pa.Table:
    """``features`` with ``_available_at`` = ``stamp`` (a timestamp column)."""
    if isinstance(features, pa.Table):
        column = pa.array([stamp] * features.num_rows, pa.timestamp("us", tz="UTC"))
        return features.append_column(AVAILABLE_AT, column)
    return features.withColumn(AVAILABLE_AT, F.lit(stamp).cast("timestamp"))
