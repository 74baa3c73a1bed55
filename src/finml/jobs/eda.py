"""EDA job: profile every layer's tables into ``eda_profile``, each table version once.

For each table (every medallion table and the feature store's ``trade_features`` and
``trade_labels``, or the ``eda.tables`` configured): when ``eda_profile`` has not yet
profiled its current Delta version, profile it (:func:`finml.eda.columns.profile_columns`;
feature correlations for ``trade_features``, per-symbol series statistics for
``gold_bars_1m``) and append the rows in one commit that carries the idempotent-write
marker ``(finml-eda:<table>, version)``. A re-run, or a second run before a table changes,
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark.sql import Window
from pyspark.sql import functions as F

from finml.eda.columns import profile_columns
from finml.eda.frame import profile_frame
from finml.eda.records import TABLE, Stat, to_arrow
from finml.eda.series import series_stats
from finml.eda.settings import EdaSettings
from finml.features import feature_columns
from finml.log import get_logger
from finml.pipelines.contracts import MEDALLION
from finml.runtime.delta import Txn

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark.sql import DataFrame

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables, Table

log = get_logger("jobs.eda")

APP_PREFIX = "finml-eda"
FEATURES, LABELS, BARS = "trade_features", "trade_labels", "gold_bars_1m"
LAYERS: dict[str, str] = {
    **{c.name: c.layer for c in MEDALLION},
    FEATURES: "features",
    LABELS: "features",
}


@dataclass
class EdaReport:
    """What one run profiled (table -> version) and skipped (table -> why)."""

    profiled: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    table_version: int | None = None

    def __str__(self) -> str:
        tables = ", ".join(f"{name} v{version}" for name, version in self.profiled.items())
        return (
            f"eda: {len(self.profiled)} tables profiled ({tables or 'none'}), "
            f"{len(self.skipped)} skipped, {self.rows:,} statistics -> {TABLE}"
        )


def run_eda(
    config: ProjectConfig,
    tables: DeltaTables,
    *,
    only: tuple[str, ...] | None = None,
    on_table: Callable[[str], None] | None = None,
) -> EdaReport:
    """Profile each table whose current version ``eda_profile`` lacks (``only``: these
    tables; else ``eda.tables``; else every known one); ``on_table`` is called per table
    (a progress bar).

    Raises:
        ConfigError: the ``eda`` section is invalid. DataError: a named table is unknown.
    """
    settings = EdaSettings.from_config(config)
    names = profiled_tables(config, only)
    profile = tables.table(TABLE)
    report = EdaReport()
    for name in names:
        _profile_table(tables, profile, name, settings, report)
        if on_table is not None:
            on_table(name)
    report.table_version = profile.version() if profile.exists() else None
    log.info("eda_done", profiled=report.profiled, skipped=len(report.skipped), rows=report.rows)
    return report


def profiled_tables(config: ProjectConfig, only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The tables a run profiles: ``only``, else ``eda.tables``, else every known one.

    Raises:
        ConfigError: the ``eda`` section is invalid. DataError: a named table is unknown.
    """
    from finml.errors import DataError

    names = only or EdaSettings.from_config(config).tables or tuple(LAYERS)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        raise DataError(f"eda: unknown tables {unknown}; expected some of {sorted(LAYERS)}")
    return names


def _profile_table(
    tables: DeltaTables, profile: Table, name: str, settings: EdaSettings, report: EdaReport
) -> None:
    source = tables.table(name)
    if not source.exists():
        report.skipped[name] = "no such table yet"
        return
    version = source.version()
    txn = Txn(f"{APP_PREFIX}:{name}", version)
    if profile.exists() and txn.done_by(profile.txn_version(txn.app_id)):
        report.skipped[name] = f"version {version} already profiled"
        return
    df = source.read(version)
    if source.count() * len(df.columns) <= settings.driver_cells:
        frame = source.to_arrow(version).to_pandas()
        stats = profile_frame(frame, df.schema.fields, settings, _correlated(name, df))
        if name == BARS:
            bars = frame[["symbol", "window_start", "close", "volume"]]
            stats += series_stats(bars, settings.series_points, settings.adf_max_lag)
    else:
        stats = profile_columns(df, settings, _correlated(name, df))
        if name == BARS:
            stats += _series(df, settings)
    arrow = to_arrow(
        stats, layer=LAYERS[name], table=name, version=version, profiled_at=datetime.now(UTC)
    )
    result = profile.append(arrow, txn=txn)
    if not result.skipped:
        report.profiled[name] = version
        report.rows += arrow.num_rows
    log.info("eda_table", table=name, version=version, rows=arrow.num_rows)


def _correlated(name: str, df: DataFrame) -> tuple[str, ...]:
    """The columns whose pairwise correlations are profiled: the model features."""
    return tuple(feature_columns(df)) if name == FEATURES else ()


def _series(bars: DataFrame, settings: EdaSettings) -> list[Stat]:
    """Per-symbol series statistics of each symbol's latest ``series_points`` bars."""
    latest = Window.partitionBy("symbol").orderBy(F.desc("window_start"))
    recent = (
        bars.select("symbol", "window_start", "close", "volume")
        .withColumn("__n", F.row_number().over(latest))
        .where(F.col("__n") <= settings.series_points)
        .drop("__n")
        .toPandas()
    )
    return series_stats(recent, settings.series_points, settings.adf_max_lag)
