"""The scheduled monitoring tasks over production windows (``drift_monitoring_workflow``):
each New-York trading day that ended by the job's trigger time and that no earlier run
handled -- drift against the champion's pinned training data, live performance against the
labels, one observation per window for the retraining trigger -- so a rerun changes
nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.jobs.monitoring import DriftCheck, drift_alert, latest_quality_score, run_drift_check
from finml.log import get_logger
from finml.monitoring.alerts import Alert, AlertManager, AlertSeverity, AlertType
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import MonitoringSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.monitoring.trigger import Decision, RetrainingTrigger
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.production")

REFERENCE_ROWS = 20_000  # the champion's training rows scored for the prediction-drift reference


def run_production_drift(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    *,
    as_of: datetime,
    alerts: AlertManager | None = None,
) -> DriftCheck:
    """Drift of production against the champion's training data, per trading day.

    Reference: the champion's training rows -- ``trade_features`` at the Delta version and
    within the data window its registration recorded (``finml.feature_table_version``,
    ``finml.data_window``) -- with the champion's scores on them. Current: each trading day
    that ended by ``as_of`` and that the champion scored, not yet checked against this
    reference: its feature rows with their ``predictions`` score, so the report covers
    feature drift and prediction drift (column ``score``). Rows go to ``drift_monitoring``
    with ``reference`` naming model version and feature-table version; a rerun finds no
    new day and writes nothing.
    """
    import mlflow
    from pyspark.sql import functions as F

    from finml import registry
    from finml.models.lifecycle import live_from
    from finml.serving.models import signature_features
    from finml.serving.scoring import with_predictions
    from finml.serving.settings import ServingSettings
    from finml.sources.simulator import last_closed_day

    serving = ServingSettings.from_config(config)
    registry.configure(config)
    name = registry.model_name(config, serving.model)
    champion = registry.by_alias(config, name, registry.CHAMPION)
    features, predictions = tables.table("trade_features"), tables.table("predictions")
    if champion is None or not features.exists() or not predictions.exists():
        log.info("drift_skipped", reason="no champion, features or predictions yet")
        return DriftCheck([], uuid.uuid4().hex)
    tags = champion.tags
    pinned = int(tags.get("finml.feature_table_version", features.version()))
    reference_id = f"{name} v{champion.version} / trade_features v{pinned}"
    uri = f"models:/{name}/{champion.version}"
    columns = list(signature_features(mlflow.pyfunc.load_model(uri), name))
    window_day = F.to_timestamp(F.col("_trade_date"))
    checked = _checked_windows(tables, reference_id)
    scored = predictions.read().where(
        (F.col("model_name") == name) & (F.col("model_version") == str(champion.version))
    )
    current = (
        features.read()
        .where(F.col("_trade_date") <= F.lit(last_closed_day(as_of)))
        .join(scored.select("trade_id", "score"), "trade_id")
        .withColumn("_window", window_day)
    )
    live = live_from(tags)
    if live is not None:  # the holdout days it was chosen on are not production
        current = current.where(F.col("_window") >= F.lit(live))
    if checked:
        current = current.where(~F.col("_window").isin(list(checked)))
    if current.isEmpty():
        log.info("drift_nothing_new", reference=reference_id)
        return DriftCheck([], uuid.uuid4().hex)
    reference = features.read(version=pinned)
    first, _, last = tags.get("finml.data_window", "").partition("/")
    if first and last:
        reference = reference.where(F.col("ts").between(F.lit(first), F.lit(last)))
    total = reference.count()
    if total > REFERENCE_ROWS:
        reference = reference.sample(fraction=REFERENCE_ROWS / total, seed=17)
    reference = reference.transform(
        with_predictions(
            uri,
            tuple(columns),
            name,
            str(champion.version),
            datetime.now(UTC),
            method=serving.score_method,
            stores=(config.tracking_uri, config.registry_uri),
        )
    ).join(reference.select("trade_id", *columns), "trade_id")
    check = run_drift_check(
        config, spark, None, reference, current, "_window", columns=[*columns, "score"]
    )
    records = [
        r | {"reference": reference_id}
        for rep in check.reports
        for r in rep.to_records(check.run_id)
    ]
    append_records(tables, "drift_monitoring", records)
    if alerts is not None:
        for report in check.flagged:
            alert = replace(
                drift_alert(report, check.run_id),
                dedup_key=f"DRIFT:{reference_id}:{report.window.start}",
            )
            check.alerts += alerts.send(alert)
    log.info("production_drift", reference=reference_id, windows=len(check.reports))
    return check


def _checked_windows(tables: DeltaTables, reference_id: str) -> set[datetime]:
    """Window starts already in ``drift_monitoring`` for ``reference_id``."""
    table = tables.table("drift_monitoring")
    if not table.exists() or "reference" not in table.schema().fieldNames():
        return set()
    rows = table.to_arrow().select(["window", "reference"]).to_pylist()
    return {
        r["window"]["start"].replace(tzinfo=None)
        for r in rows
        if r["reference"] == reference_id and r["window"] and r["window"]["start"]
    }


def run_production_performance(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    *,
    as_of: datetime,
    alerts: AlertManager | None = None,
) -> list[dict[str, Any]]:
    """Live metrics per New-York trading day (window ``[day, day + 1)`` at UTC midnight,
    like ``drift_monitoring``'s) and model version: ``predictions`` joined with
    ``trade_labels``, for the days that ended by ``as_of`` after the latest day already in
    ``model_monitoring`` (so each day is counted once, however often the job runs).
    A PERFORMANCE alert per window whose PR-AUC fell more than ``policy.max_metric_drop``
    below the version's own validation PR-AUC (its ``finml.metric.pr_auc`` tag)."""
    from pyspark.sql import functions as F

    from finml.monitoring.performance import PerformanceMonitor

    predictions, labels = tables.table("predictions"), tables.table("trade_labels")
    if not predictions.exists() or not labels.exists():
        return []
    from finml.features.indicators import EXCHANGE_TZ
    from finml.sources.simulator import last_closed_day

    trading_day = F.to_date(F.from_utc_timestamp("ts", EXCHANGE_TZ))
    scored = (
        predictions.read()
        .withColumn("_day", trading_day)
        .where(F.col("_day") <= F.lit(last_closed_day(as_of)))
    )
    done = _latest_window_end(tables)
    if done is not None:
        scored = scored.where(F.col("_day") >= F.lit(done.date()))
    scored = scored.withColumn("ts", F.to_timestamp("_day")).drop("_day")
    if scored.isEmpty():
        return []
    records = PerformanceMonitor(tables).run(scored, labels.read())
    settings = MonitoringSettings.from_config(config)
    for rec in records:
        baseline = validation_metric(config, rec["model_name"], rec["model_version"])
        drop = baseline - rec["pr_auc"] if baseline is not None and rec["pr_auc"] else 0.0
        if alerts is not None and drop > settings.policy.max_metric_drop:
            start = rec["window"]["start"]
            alerts.send(
                Alert(
                    AlertType.PERFORMANCE,
                    AlertSeverity.HIGH,
                    f"PR-AUC of {rec['model_name']} v{rec['model_version']} fell by {drop:.3f}",
                    f"window {start:%Y-%m-%d}: pr_auc {rec['pr_auc']:.3f} vs validation "
                    f"{baseline:.3f}",
                    source="performance_monitor",
                    details={"window_start": start, "model_version": rec["model_version"]},
                    dedup_key=f"PERFORMANCE:{rec['model_version']}:{start:%Y-%m-%d}",
                )
            )
    log.info("production_performance", windows=len(records))
    return records


def _latest_window_end(tables: DeltaTables) -> datetime | None:
    table = tables.table("model_monitoring")
    if not table.exists():
        return None
    ends = [r["window"]["end"] for r in table.to_arrow().select(["window"]).to_pylist()]
    return max((e for e in ends if e is not None), default=None)


def validation_metric(config: ProjectConfig, name: str, version: str | int) -> float | None:
    """The PR-AUC version ``version`` of ``name`` reached on its holdout when registered."""
    from finml import registry

    try:
        tags = registry.client(config).get_model_version(name, str(version)).tags
    except Exception:  # MLflow raises its own errors for an unknown version
        return None
    value = tags.get("finml.metric.pr_auc")
    return float(value) if value not in (None, "") else None


def run_retrain_trigger(
    config: ProjectConfig,
    tables: DeltaTables,
    *,
    as_of: datetime,
    trigger: RetrainingTrigger | None = None,
    retrain_job: str | None = None,
) -> list[Decision]:
    """Feed the retraining trigger one observation per window not observed yet: the
    champion's live PR-AUC (``model_monitoring``) against its validation PR-AUC, the
    window's drift (worst severity and share of drifted columns) against the champion's
    reference (``drift_monitoring``) and the latest data-quality score
    (``data_quality_log``). A trigger starts ``retrain_job`` (a Databricks job id: ``jobs.
    run_now``; ``local:...`` or None: the configured action). The trigger's clock is
    ``as_of`` (the job's trigger time), so cooldown and daily cap count in market time.
    Windows scored by earlier champions are not evidence against this one."""
    from finml import registry
    from finml.models.lifecycle import live_from
    from finml.monitoring.actions import action_for_job
    from finml.monitoring.trigger import Observation, RetrainingTrigger
    from finml.serving.settings import ServingSettings

    settings = MonitoringSettings.from_config(config)
    if trigger is None:
        action = action_for_job(settings.action, retrain_job)
        trigger = RetrainingTrigger(settings.policy, action, tables, now=lambda: as_of)
    registry.configure(config)
    name = registry.model_name(config, ServingSettings.from_config(config).model)
    champion = registry.by_alias(config, name, registry.CHAMPION)
    if champion is None:
        return [_first_model(trigger, tables, settings.policy.bootstrap_days, as_of)]
    monitored = tables.table("model_monitoring")
    if not monitored.exists():
        return []
    version = str(champion.version)
    windows = [
        r
        for r in monitored.to_arrow().to_pylist()
        if r["model_name"] == name and r["model_version"] == version
    ]
    seen, live = trigger.last_window_end, live_from(champion.tags)
    fresh = sorted(
        (
            r
            for r in windows
            if (seen is None or r["window"]["end"] > seen)
            and (live is None or r["window"]["start"] >= live)
        ),
        key=lambda r: r["window"]["start"],
    )
    drift = _drift_by_window(tables, f"{name} v{version} /", settings.policy.min_drift_severity)
    baseline = validation_metric(config, name, version)
    quality = latest_quality_score(tables)
    decisions = []
    for index, rec in enumerate(fresh):
        worst, share = drift.get(rec["window"]["start"].replace(tzinfo=None), ("NONE", None))
        observation = Observation(
            drift_severity=worst,
            drift_share=share,
            metric=rec["pr_auc"],
            baseline_metric=baseline,
            new_samples=int(rec["labelled_count"] or 0),
            positives=int(rec["positive_count"] or 0),
            quality_score=quality if index == len(fresh) - 1 else None,
            window_end=rec["window"]["end"],
        )
        decisions.append(trigger.evaluate(observation))
    return decisions


def _first_model(
    trigger: RetrainingTrigger, tables: DeltaTables, days_needed: int, as_of: datetime
) -> Decision:
    """No champion: retrain once the labels cover ``days_needed`` trading days."""
    from zoneinfo import ZoneInfo

    from finml.features.indicators import EXCHANGE_TZ
    from finml.monitoring.trigger import Observation

    labels = tables.table("trade_labels")
    stamps = labels.to_arrow().column("ts").to_pylist() if labels.exists() else []
    new_york = ZoneInfo(EXCHANGE_TZ)
    days = {s.replace(tzinfo=s.tzinfo or UTC).astimezone(new_york).date() for s in stamps}
    ready = (
        f"no champion yet: {len(stamps)} labelled trades over {len(days)} trading days"
        if len(days) >= days_needed
        else None
    )
    return trigger.start_without_champion(
        ready, Observation(new_samples=len(stamps), window_end=as_of)
    )


def _drift_by_window(
    tables: DeltaTables, reference_prefix: str, min_severity: str
) -> dict[datetime, tuple[str, float]]:
    """Per window start of the references starting with ``reference_prefix`` (the
    champion's): the worst drift severity, and the share of the window's checked columns
    at ``min_severity`` or worse (dataset drift, as Evidently's drift share)."""
    from finml.monitoring.drift.report import SEVERITY_ORDER

    table = tables.table("drift_monitoring")
    if not table.exists() or "reference" not in table.schema().fieldNames():
        return {}
    floor = SEVERITY_ORDER[min_severity]
    levels: dict[datetime, list[str]] = {}
    for r in table.to_arrow().select(["window", "reference", "severity"]).to_pylist():
        if not (r["reference"] or "").startswith(reference_prefix) or not r["window"]:
            continue
        levels.setdefault(r["window"]["start"].replace(tzinfo=None), []).append(
            r["severity"] or "NONE"
        )
    return {
        start: (
            max(found, key=lambda level: SEVERITY_ORDER.get(level, 0)),
            sum(SEVERITY_ORDER.get(level, 0) >= floor for level in found) / len(found),
        )
        for start, found in levels.items()
    }
