"""The end-to-end demo on the embedded default: every stage that exists, with a summary."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from finml.log import get_logger

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("jobs.demo")
console = Console(width=None if sys.stdout.isatty() else 180)


@dataclass
class DemoResult:
    counts: dict[str, int] = field(default_factory=dict)
    reconciliation: dict[str, int] = field(default_factory=dict)
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    dashboard: Path | None = None


@contextmanager
def _stages() -> Iterator[Callable[[str, Callable[[], Any]], Any]]:
    timings: dict[str, float] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        def stage(name: str, work: Callable[[], Any]) -> Any:
            task = progress.add_task(name, total=1)
            started = time.perf_counter()
            value = work()
            timings[name] = time.perf_counter() - started
            progress.update(task, completed=1, description=f"[green]✓[/] {name}")
            return value

        stage.timings = timings  # type: ignore[attr-defined]
        yield stage


def run_demo(config: ProjectConfig, *, fresh: bool = True) -> DemoResult:
    """Every stage on the embedded default: simulate -> ingest -> bronze/silver/gold ->
    features -> regimes -> tournament + gate -> batch scoring -> drift and monitoring ->
    dashboard, printing what each produced."""
    from finml.jobs.data import run_pipeline, run_simulation, simulator_config
    from finml.pipelines.medallion import quarantine_by_rule
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    if fresh and config.home.exists():
        shutil.rmtree(config.home)
    result = DemoResult()
    with _stages() as stage:
        sim = simulator_config(config)
        summary = stage(
            "simulate market (landing zone + ground truth)",
            lambda: run_simulation(config, DeltaTables.from_config(config, None), sim),
        )
        spark = stage("start Spark", lambda: get_spark(config, app_name="finml-demo"))
        tables = DeltaTables.from_config(config, spark)
        report = stage(
            "ingest + medallion (bronze -> silver -> gold)",
            lambda: run_pipeline(config, spark, tables),
        )
        _ml_stages(config, spark, tables, stage, result)
        result.seconds = dict(stage.timings)  # type: ignore[attr-defined]
    result.counts = report.counts
    result.quarantine_by_rule = quarantine_by_rule(tables)
    result.reconciliation = reconcile(summary.manifest.records, report)
    result.quality = {f"{q.layer}:{q.table_name}": q.quality_score for q in report.quality}
    _print(result, tables.engine_name)
    return result


def _ml_stages(
    config: ProjectConfig,
    spark: Any,
    tables: Any,
    stage: Callable[[str, Callable[[], Any]], Any],
    result: DemoResult,
) -> None:
    """features -> regimes -> tournament + gate -> batch scoring -> monitoring -> backtest
    -> EDA -> dashboard."""
    from finml.jobs.backtest import run_backtest
    from finml.jobs.dashboard import export_dashboard
    from finml.jobs.eda import run_eda
    from finml.jobs.features import build_features
    from finml.jobs.monitoring import run_drift_scenario, run_monitoring
    from finml.jobs.regimes import run_regimes
    from finml.jobs.serving import score_table
    from finml.jobs.training import run_training
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    reports = result.reports
    reports["features"] = stage(
        "features + feature store (train/test sets)",
        lambda: build_features(config, spark, tables),
    )
    reports["regimes"] = stage("Markov regime model", lambda: run_regimes(config, spark, tables))
    reports["training"] = stage(
        "model tournament + champion/challenger gate",
        lambda: run_training(config, spark, tables),
    )
    reports["scoring"] = stage(
        "batch scoring of the holdout (champion)", lambda: score_table(config, spark, tables)
    )
    alerts = AlertManager(
        MonitoringSettings.from_config(config).alerts, tables, secrets=config.secrets
    )
    reports["drift"] = stage(
        "drift check on the simulator's drift scenario",
        lambda: run_drift_scenario(config, tables, alerts=alerts),
    )
    reports["monitoring"] = stage(
        "model performance monitoring + retraining decision",
        lambda: run_monitoring(
            config,
            spark,
            tables,
            tables.table("predictions").read(),
            tables.table("test_set").read(),
            alerts=alerts,
        ),
    )
    reports["backtest"] = stage(
        "decision backtest over the predictions", lambda: run_backtest(config, tables)
    )
    reports["eda"] = stage("EDA profile of every layer", lambda: run_eda(config, tables))
    result.dashboard = stage("dashboard export", lambda: export_dashboard(config, tables))


def reconcile(landing_records: int, report: Any) -> dict[str, int]:
    """landing records = silver + quarantined + dropped + duplicates removed (trades; summed
    over every batch of the run)."""
    silver = [q for q in report.quality if q.table_name == "silver_trades"]
    values = {
        "landing_records": landing_records,
        "bronze_rows": report.counts.get("bronze_trades", 0),
        "silver_rows": sum(q.rows_out for q in silver),
        "quarantined": sum(q.rows_quarantined for q in silver),
        "dropped": sum(q.rows_dropped for q in silver),
        "duplicates_removed": sum(q.duplicates_removed for q in silver),
    }
    values["unaccounted"] = values["landing_records"] - (
        values["silver_rows"]
        + values["quarantined"]
        + values["dropped"]
        + values["duplicates_removed"]
    )
    return values


def _print(result: DemoResult, engine: str) -> None:
    console.print(f"\nDelta engine: [bold]{engine}[/]")
    _print_data(result)
    _print_ml(result)
    if result.dashboard is not None:
        console.print(f"\n[bold]Dashboard:[/] open file://{result.dashboard}")


def _print_ml(result: DemoResult) -> None:
    reports = result.reports
    if "features" in reports:
        reports["features"].print(console)
    if "regimes" in reports:
        reports["regimes"].print(console)
    if "training" in reports:
        console.print(reports["training"].leaderboard_table())
        console.print(reports["training"].summary())
    if "scoring" in reports:
        score = reports["scoring"]
        console.print(
            f"batch scoring: {score.rows:,} rows of {score.source} -> {score.table} "
            f"(model v{score.model_version}, {score.method}, {score.seconds:.1f} s)"
        )
    for key in ("drift", "monitoring", "backtest", "eda"):
        if key in reports:
            console.print(str(reports[key]))


def _print_data(result: DemoResult) -> None:
    layers = RichTable("table", "rows", title="Rows per table")
    for name, rows in sorted(result.counts.items()):
        layers.add_row(name, f"{rows:,}")
    console.print(layers)
    rules = RichTable("rule", "rows", title="Quarantined rows by rule")
    for rule, rows in result.quarantine_by_rule.items():
        rules.add_row(rule, f"{rows:,}")
    console.print(rules)
    recon = RichTable(
        "", "records", title="Reconciliation: landing = silver + quarantined + dropped + duplicates"
    )
    for key, value in result.reconciliation.items():
        recon.add_row(key, f"{value:,}")
    console.print(recon)
    quality = RichTable("layer:table", "quality score", title="Quality per layer (this run)")
    for key, score in result.quality.items():
        quality.add_row(key, f"{score:.4f}")
    console.print(quality)
