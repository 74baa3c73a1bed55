"""Data-plane jobs: simulate the market into the landing zone, ingest, run the medallion."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.log import get_logger

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.pipelines.ingest import IngestResult
    from finml.pipelines.medallion import MedallionReport
    from finml.pipelines.quality_targets import TargetMiss
    from finml.pipelines.sdp import DeclarativeResult
    from finml.runtime.delta import DeltaTables
    from finml.sources.simulator import LandingManifest, SimulationResult, SimulatorConfig

log = get_logger("jobs.data")

TRUTH_TRADES, TRUTH_REGIMES = "sim_truth_trades", "sim_truth_regimes"


@dataclass(frozen=True)
class SimulationSummary:
    manifest: LandingManifest
    trades: int
    anomalies: int


def simulator_config(config: ProjectConfig, **overrides: Any) -> SimulatorConfig:
    """The project's simulator section with ``overrides`` (None values ignored) applied.

    Raises:
        ConfigError: an override is invalid (named).
    """
    from finml.settings_base import validate_section
    from finml.sources.simulator import SimulatorConfig

    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config.simulator  # validated when the config was loaded
    return validate_section(SimulatorConfig, config.simulator.model_dump() | given, "simulator")


def run_simulation(
    config: ProjectConfig,
    tables: DeltaTables,
    sim: SimulatorConfig,
    *,
    as_of: datetime | None = None,
) -> SimulationSummary:
    """Simulate, write landing files, and store the ground truth in its own Delta tables
    (never in the model inputs).

    With ``as_of`` the simulated market is a live source: only the trading days whose
    extended session closed (20:00 New York) by ``as_of`` and were not landed yet are delivered,
    each day's ground truth first (appended with a transaction id per day, so a retried
    run adds nothing) and its trade file after. Run after run, the same seeded market lands
    day by day, each day exactly once."""
    from finml.sources.simulator import simulate, write_landing

    result = simulate(sim)
    if as_of is not None:
        return _deliver_closed_days(config, tables, sim, result, as_of)
    manifest = write_landing(result, config.landing_dir, sim)
    tables.table(TRUTH_TRADES).overwrite(_arrow(result.truth_trades))
    tables.table(TRUTH_REGIMES).overwrite(_arrow(result.truth_regimes))
    anomalies = int(result.truth_trades["is_anomaly"].sum())
    log.info(
        "simulated", trades=len(result.trades), anomalies=anomalies, landing=str(config.landing_dir)
    )
    return SimulationSummary(manifest, len(result.trades), anomalies)


def _deliver_closed_days(
    config: ProjectConfig,
    tables: DeltaTables,
    sim: SimulatorConfig,
    result: SimulationResult,
    as_of: datetime,
) -> SimulationSummary:
    from finml.runtime.delta import Txn
    from finml.sources.simulator import last_closed_day, write_landing

    closed = last_closed_day(as_of)
    trades_dir = config.landing_dir / "trades"
    due = [
        (index, day)
        for index, day in enumerate(result.trading_dates)
        if day <= closed and not (trades_dir / f"trades_{day.isoformat()}.jsonl").exists()
    ]
    truth = tables.table(TRUTH_TRADES)
    for index, _ in due:
        rows = result.truth_trades[result.day_index == index]
        truth.append(_arrow(rows), txn=Txn(f"simulator-{sim.seed}", index))
    manifest = write_landing(result, config.landing_dir, sim, dates={day for _, day in due})
    if due:
        last = due[-1][0]
        minutes = result.truth_regimes["minute_ts_ms"]
        end_s = int(datetime.combine(result.trading_dates[last], time(23, 59), UTC).timestamp())
        tables.table(TRUTH_REGIMES).overwrite(_arrow(result.truth_regimes[minutes <= end_s * 1000]))
    delivered = int(sum((result.day_index == index).sum() for index, _ in due))
    anomalies = int(
        sum(result.truth_trades["is_anomaly"][result.day_index == i].sum() for i, _ in due)
    )
    log.info("simulated_days_landed", days=[d.isoformat() for _, d in due], trades=delivered)
    return SimulationSummary(manifest, delivered, anomalies)


def run_pipeline(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    *,
    full_refresh: bool = False,
    wait_seconds: float = 0.0,
) -> MedallionReport:
    """The medallion under the home's lock on its tables (see :func:`medallion_lock`).

    Raises:
        RunLocked: another run holds the lock (after ``wait_seconds``).
    """
    from finml.errors import ExpectationFailed
    from finml.pipelines.medallion import run_medallion
    from finml.pipelines.quality_targets import QualityTargetMissed

    with medallion_lock(config, wait_seconds):
        try:
            report = run_medallion(config, spark, tables, full_refresh=full_refresh)
        except QualityTargetMissed as exc:
            quality_alerts(config, tables, exc.misses, blocked=True)
            raise
        except ExpectationFailed as exc:
            quality_alerts(config, tables, [], failed_rule=str(exc))
            raise
    quality_alerts(config, tables, report.misses)
    return report


def quality_alerts(
    config: ProjectConfig,
    tables: DeltaTables,
    misses: list[TargetMiss],
    *,
    blocked: bool = False,
    failed_rule: str | None = None,
) -> None:
    """DATA_QUALITY alerts: one per table below its layer's target (HIGH when it blocked the
    downstream stages, else MEDIUM), one CRITICAL for a violated ``fail`` expectation;
    deduplicated per table within the alert window."""
    from finml.monitoring.alerts import Alert, AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.vocabulary import AlertSeverity, AlertType

    if not misses and failed_rule is None:
        return
    manager = AlertManager(
        MonitoringSettings.from_config(config).alerts, tables, secrets=config.secrets
    )
    worst: dict[str, TargetMiss] = {}
    for miss in misses:  # one alert per table: its worst batch of the run
        if miss.table not in worst or miss.score < worst[miss.table].score:
            worst[miss.table] = miss
    for miss in worst.values():
        manager.send(
            Alert(
                AlertType.DATA_QUALITY,
                AlertSeverity.HIGH if blocked else AlertSeverity.MEDIUM,
                f"{miss.layer} table {miss.table} below its quality target",
                str(miss) + ("; downstream stages blocked" if blocked else ""),
                source="medallion",
                details={**asdict(miss), "blocked": blocked},
                dedup_key=f"DATA_QUALITY:{miss.table}",
            )
        )
    if failed_rule is not None:
        manager.send(
            Alert(
                AlertType.DATA_QUALITY,
                AlertSeverity.CRITICAL,
                "a fail expectation stopped the medallion",
                failed_rule,
                source="medallion",
                dedup_key="DATA_QUALITY:fail_expectation",
            )
        )


def run_declarative(
    config: ProjectConfig, *, wait_seconds: float = 0.0
) -> tuple[DeclarativeResult, dict[str, int]]:
    """The medallion as an open-source Spark Declarative Pipeline (``spark-pipelines run``,
    a process) into schema ``<schema>_dlt``, under a lock of its own; returns the run and
    the rows of each table it wrote (read with delta-rs: no Spark in this process).

    Raises:
        RunLocked: another declarative run of this home holds the lock.
        DeltaEngineError: no Delta jars.
        DeclarativePipelineFailed: the pipeline failed (its error, one line).
    """
    from finml.pipelines.sdp import plan_run, run_pipeline
    from finml.runtime.delta import DeltaTables
    from finml.runtime.locks import run_lock

    run = plan_run(config)
    lock = f"sdp.{config.catalog.lower()}.{run.schema}"
    with run_lock(config.home, lock, wait_seconds=wait_seconds):
        result = run_pipeline(run)
    base = DeltaTables.from_config(config, None)
    tables = DeltaTables(base.engine, base.warehouse, base.catalog, run.schema)
    counts = {name: tables.table(name).count() for name in run.tables}
    return result, counts


def run_ingest(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables, *, wait_seconds: float = 0.0
) -> list[IngestResult]:
    """New landing files -> bronze, under the same lock as the medallion.

    Raises:
        RunLocked: another run holds the lock (after ``wait_seconds``).
    """
    from finml.pipelines.ingest import ingest_landing

    with medallion_lock(config, wait_seconds):
        return ingest_landing(config, spark, tables)


def medallion_lock(
    config: ProjectConfig, wait_seconds: float = 0.0
) -> AbstractContextManager[object]:
    """The run lock of the medallion tables of ``config``'s catalog and schema in its home
    (local homes; on Databricks the job's ``max_concurrent_runs: 1`` does this). Taken
    before Spark starts by the CLI, re-entered by the job functions.

    Raises:
        RunLocked: on entering, another run holds it (after ``wait_seconds``).
    """
    from finml.runtime.locks import run_lock

    if config.workspace != "local":
        return nullcontext()
    name = f"medallion.{config.catalog.lower()}.{config.db_schema.lower()}"
    return run_lock(config.home, name, wait_seconds=wait_seconds)


def _arrow(frame: Any) -> pa.Table:
    """``frame`` as Arrow; a column with no value at all (a day without anomalies has no
    ``anomaly_type``) is typed string, as the table holds it, not Arrow's null type."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for index, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            table = table.set_column(index, column.name, table.column(index).cast(pa.string()))
    return table
