"""Monitoring jobs: drift checks, a monitoring cycle (performance -> trigger -> alerts) and
the simulator drift scenario the demo shows.

>>> check = run_drift_check(config, spark, tables, ref, cur, window="trade_date")  # doctest: +SKIP
>>> print(check)  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from finml.errors import DataError
from finml.log import get_logger
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.drift import DriftDetector, DriftReport
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import MonitoringSettings
from finml.vocabulary import AlertSeverity, AlertType, DriftSeverity

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from finml.config import ProjectConfig
    from finml.monitoring.performance import Source
    from finml.monitoring.trigger import Decision, RetrainingTrigger
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.monitoring")
Frame = Any  # a pandas or Spark DataFrame


@dataclass
class DriftCheck:
    """The reports of one drift check (one per window), with the alerts they raised."""

    reports: list[DriftReport]
    run_id: str
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flagged(self) -> list[DriftReport]:
        """Windows at MEDIUM or HIGH severity, in time order."""
        return [r for r in self.reports if r.severity != DriftSeverity.NONE]

    @property
    def severity(self) -> DriftSeverity:
        return DriftSeverity.worst(r.severity for r in self.reports)

    def __str__(self) -> str:
        lines = [
            f"drift check {self.run_id[:8]}: {len(self.reports)} window(s), "
            f"{len(self.flagged)} flagged, worst {self.severity}"
        ]
        for report in self.reports:
            cols = ", ".join(
                f"{c.column_name}(psi {c.population_stability_index:.3f}, js {c.js_distance:.3f})"
                for c in report.drifted
            )
            lines.append(f"  {report.window}: {report.severity:<6} {cols}")
        return "\n".join(lines)


def run_drift_check(
    config: ProjectConfig,
    spark: SparkSession | None,
    tables: DeltaTables | None,
    reference: Frame,
    current: Frame,
    window: str | None = None,
    *,
    granularity: str = "1 day",
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    alerts: AlertManager | None = None,
) -> DriftCheck:
    """Compare ``current`` (per ``window`` value, or as a whole) with ``reference``.

    Takes pandas frames (exact numpy path) or Spark DataFrames (Spark path: approximate
    quantiles + one histogram aggregation). ``columns`` default to the feature columns of
    the ``train_set`` contract. Rows go to ``drift_monitoring`` when ``tables`` is given;
    each flagged window raises a DRIFT alert through ``alerts`` (if given).

    Raises:
        DataError: a column or the window column is missing.
    """
    settings = MonitoringSettings.from_config(config).drift
    chosen = _columns(reference, columns, categorical, window)
    numeric = [c for c in chosen if c not in categorical]
    if isinstance(reference, pd.DataFrame) and isinstance(current, pd.DataFrame):
        detector = DriftDetector(reference, chosen, categorical, settings)
        reports = (
            detector.compare_windows(current, window, granularity)
            if window
            else [detector.compare(current)]
        )
    else:
        from finml.monitoring.drift.spark import spark_drift

        reports = spark_drift(
            _spark_frame(spark, reference),
            _spark_frame(spark, current),
            numeric,
            list(categorical),
            window,
            granularity,
            settings,
        )
    check = DriftCheck(reports, uuid.uuid4().hex)
    if tables is not None:
        append_records(
            tables, "drift_monitoring", [r for rep in reports for r in rep.to_records(check.run_id)]
        )
    if alerts is not None:
        for report in check.flagged:
            check.alerts += alerts.send(drift_alert(report, check.run_id))
    log.info("drift_check", run_id=check.run_id, windows=len(reports), flagged=len(check.flagged))
    return check


def drift_alert(report: DriftReport, run_id: str) -> Alert:
    worst = report.drifted[:5]
    return Alert(
        AlertType.DRIFT,
        AlertSeverity.HIGH if report.severity == DriftSeverity.HIGH else AlertSeverity.MEDIUM,
        f"drift {report.severity} in window {report.window}",
        "; ".join(
            f"{c.column_name}: psi {c.population_stability_index:.3f}, js {c.js_distance:.3f}"
            for c in worst
        ),
        source="drift_check",
        details={"run_id": run_id, "columns": [c.column_name for c in report.drifted]},
    )


def _columns(
    reference: Frame, columns: Sequence[str] | None, categorical: Sequence[str], window: str | None
) -> list[str]:
    if columns is not None:
        return list(columns)
    from finml.features import feature_columns

    chosen = [c for c in feature_columns(reference) if c != window and c not in categorical]
    if isinstance(reference, pd.DataFrame):
        chosen = [c for c in chosen if pd.api.types.is_numeric_dtype(reference[c])]
    else:
        numeric = {"double", "float", "int", "bigint", "smallint", "tinyint"}
        chosen = [c for c, t in reference.dtypes if c in chosen and t.split("(")[0] in numeric]
    if not chosen and not categorical:
        raise DataError("reference: expected numeric feature columns to monitor, got none")
    return [*chosen, *categorical]


def _spark_frame(spark: SparkSession | None, frame: Frame) -> DataFrame:
    if isinstance(frame, pd.DataFrame):
        if spark is None:
            raise DataError("drift check: expected a SparkSession to mix pandas and Spark frames")
        return spark.createDataFrame(frame)
    return frame


@dataclass
class MonitoringResult:
    performance: list[dict[str, Any]]
    decisions: list[Decision]
    alerts: list[dict[str, Any]]

    def __str__(self) -> str:
        lines = [f"monitoring: {len(self.performance)} window(s)"]
        for rec, dec in zip(self.performance, self.decisions, strict=False):
            pr = rec["pr_auc"]
            lines.append(
                f"  {rec['window']['start']:%Y-%m-%d %H:%M} {rec['model_name']} "
                f"v{rec['model_version']}: n={rec['count']} labelled={rec['labelled_count']} "
                f"pr_auc={'n/a' if pr is None else f'{pr:.3f}'} -> {dec.decision} ({dec.reason})"
            )
        return "\n".join(lines)


def run_monitoring(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    scored: DataFrame,
    labels: DataFrame,
    *,
    source: Source = "predictions",
    granularity: str = "1 day",
    baseline_metric: float | None = None,
    drift: DriftCheck | None = None,
    trigger: RetrainingTrigger | None = None,
    alerts: AlertManager | None = None,
    quality_score: float | None = None,
) -> MonitoringResult:
    """One monitoring cycle: windowed performance -> ``model_monitoring``; each window an
    observation for the retraining trigger (audited in ``retraining_audit``); PERFORMANCE
    alerts where PR-AUC fell more than ``policy.max_metric_drop`` below ``baseline_metric``.

    ``quality_score`` (default: the lowest score of the latest run in ``data_quality_log``,
    if that table exists) feeds the data-quality condition of the latest window.
    """
    from finml.jobs.ensemble_monitoring import monitor_members
    from finml.monitoring.performance import PerformanceMonitor
    from finml.monitoring.trigger import Observation, RetrainingTrigger

    settings = MonitoringSettings.from_config(config)
    records = PerformanceMonitor(tables, granularity).compute(scored, labels, source)
    if source == "predictions":  # members first (see run_production_performance)
        monitor_members(config, tables, scored, labels, records, granularity=granularity)
    append_records(tables, "model_monitoring", records)
    if trigger is None:
        from finml.jobs.retrain_action import local_job_action
        from finml.monitoring.actions import action_from_settings

        action = action_from_settings(settings.action, local_job_action(config))
        trigger = RetrainingTrigger(settings.policy, action, tables)
    drift_by_start = {r.window.start: r.severity for r in (drift.reports if drift else [])}
    quality = quality_score if quality_score is not None else latest_quality_score(tables)
    decisions, sent = [], []
    for index, rec in enumerate(records):
        start = rec["window"]["start"]
        observation = Observation(
            drift_severity=drift_by_start.get(start, DriftSeverity.NONE),
            metric=rec["pr_auc"],
            baseline_metric=baseline_metric,
            new_samples=int(rec["labelled_count"]),
            quality_score=quality if index == len(records) - 1 else None,
            window_end=rec["window"]["end"],
        )
        decisions.append(trigger.evaluate(observation))
        if alerts is not None:
            alert = _performance_alert(rec, baseline_metric, settings.policy.max_metric_drop)
            if alert is not None:
                sent += alerts.send(alert)
    return MonitoringResult(records, decisions, sent)


def _performance_alert(
    rec: dict[str, Any], baseline_metric: float | None, max_metric_drop: float
) -> Alert | None:
    """A PERFORMANCE alert when the window's PR-AUC fell more than ``max_metric_drop``
    below ``baseline_metric`` (None otherwise, or without a baseline)."""
    drop = (baseline_metric or 0) - (rec["pr_auc"] or 0) if rec["pr_auc"] is not None else 0
    if baseline_metric is None or not drop > max_metric_drop:
        return None
    start = rec["window"]["start"]
    return Alert(
        AlertType.PERFORMANCE,
        AlertSeverity.HIGH,
        f"PR-AUC of {rec['model_name']} fell by {drop:.3f}",
        f"window {start:%Y-%m-%d %H:%M}: pr_auc {rec['pr_auc']:.3f} vs baseline "
        f"{baseline_metric:.3f}",
        source="performance_monitor",
        details={"window_start": start, "model_version": rec["model_version"]},
    )


def latest_quality_score(tables: DeltaTables) -> float | None:
    """The lowest ``quality_score`` of the most recent run in ``data_quality_log`` (or None)."""
    table = tables.table("data_quality_log")
    if not table.exists():
        return None
    rows = table.to_arrow().select(["run_id", "quality_score", "computed_at"]).to_pylist()
    if not rows:
        return None
    latest = max(rows, key=lambda r: r["computed_at"])["run_id"]
    scores = [
        r["quality_score"] for r in rows if r["run_id"] == latest and r["quality_score"] is not None
    ]
    return min(scores) if scores else None


def run_drift_scenario(
    config: ProjectConfig,
    tables: DeltaTables | None = None,
    *,
    days: int = 20,
    drift_day: int | None = 12,
    reference_days: int = 5,
    trades_per_day: int = 400,
    seed: int = 7,
    symbols: Sequence[str] = ("AAPL", "MSFT"),
    stationary_regimes: bool = True,
    alerts: AlertManager | None = None,
) -> DriftCheck:
    """Simulate a market (with a drift from ``drift_day``, or none), then check per trading
    day the drift of trade-level log returns, log volumes, gaps and sessions against the
    first ``reference_days`` days. No Spark needed.

    ``stationary_regimes`` pins the hidden regime chain to its initial state: regime
    switches are real distribution shifts and would (correctly) be flagged too.
    """
    from finml.monitoring.market import QUANTITIES, trade_quantities
    from finml.sources.simulator import DriftScenario, SimulatorConfig, simulate

    if reference_days >= days:
        raise DataError(f"reference_days: expected < days ({days}), got {reference_days}")
    fields: dict[str, Any] = {
        "seed": seed,
        "days": days,
        "symbols": list(symbols),
        "trades_per_day": trades_per_day,
        "anomaly_rate": 0.005,
        "drift": DriftScenario.model_validate({"start_day": drift_day}) if drift_day else None,
    }
    if stationary_regimes:
        fields["transition"] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    sim = SimulatorConfig.model_validate(fields)
    quantities = trade_quantities(simulate(sim).trades)
    dates = sorted(quantities["trade_date"].unique())
    is_reference = quantities["trade_date"].isin(dates[:reference_days])
    return run_drift_check(
        config,
        None,
        tables,
        quantities[is_reference],
        quantities[~is_reference],
        "trade_date",
        columns=[*QUANTITIES, "session"],
        categorical=["session"],
        alerts=alerts,
    )
