"""The retraining trigger's task over production windows (``drift_monitoring_workflow``'s
``retrain_trigger``): one observation per ``model_monitoring`` window of the champion not
observed yet -- live PR-AUC against the version's validation PR-AUC, the window's drift and
the latest data-quality score -- and, with no champion, the first model once labels cover
enough trading days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.jobs.monitoring import latest_quality_score
from finml.jobs.production import validation_metric
from finml.monitoring.settings import MonitoringSettings
from finml.vocabulary import DriftSeverity

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.monitoring.trigger import Decision, Observation, RetrainingTrigger
    from finml.runtime.delta import DeltaTables, Table


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
    from finml.jobs.retrain_action import local_job_action
    from finml.models.lifecycle import live_from
    from finml.monitoring.actions import action_for_job
    from finml.monitoring.trigger import RetrainingTrigger
    from finml.serving.settings import ServingSettings

    settings = MonitoringSettings.from_config(config)
    if trigger is None:
        action = action_for_job(settings.action, retrain_job, local_job_action(config))
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
    fresh = _unobserved_windows(monitored, name, version, trigger, live_from(champion.tags))
    drift = _drift_by_window(tables, f"{name} v{version} /", settings.policy.min_drift_severity)
    baseline = validation_metric(config, name, version)
    quality = latest_quality_score(tables)
    decisions = []
    for index, rec in enumerate(fresh):
        last = index == len(fresh) - 1
        observation = _window_observation(rec, drift, baseline, quality if last else None)
        decisions.append(trigger.evaluate(observation))
    return decisions


def _unobserved_windows(
    monitored: Table, name: str, version: str, trigger: RetrainingTrigger, live: datetime | None
) -> list[dict[str, Any]]:
    """The ``model_monitoring`` windows of version ``version`` of ``name`` that ended after
    the trigger's last observation and started once the version went live, by start."""
    windows = [
        r
        for r in monitored.to_arrow().to_pylist()
        if r["model_name"] == name and r["model_version"] == version
    ]
    seen = trigger.last_window_end
    return sorted(
        (
            r
            for r in windows
            if (seen is None or r["window"]["end"] > seen)
            and (live is None or r["window"]["start"] >= live)
        ),
        key=lambda r: r["window"]["start"],
    )


def _window_observation(
    rec: dict[str, Any],
    drift: dict[datetime, tuple[DriftSeverity, float]],
    baseline: float | None,
    quality: float | None,
) -> Observation:
    """The trigger's observation of one ``model_monitoring`` window (``rec``)."""
    from finml.monitoring.trigger import Observation

    worst, share = drift.get(
        rec["window"]["start"].replace(tzinfo=None), (DriftSeverity.NONE, None)
    )
    return Observation(
        drift_severity=worst,
        drift_share=share,
        metric=rec["pr_auc"],
        baseline_metric=baseline,
        new_samples=int(rec["labelled_count"] or 0),
        positives=int(rec["positive_count"] or 0),
        quality_score=quality,
        window_end=rec["window"]["end"],
    )


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
    tables: DeltaTables, reference_prefix: str, min_severity: DriftSeverity
) -> dict[datetime, tuple[DriftSeverity, float]]:
    """Per window start of the references starting with ``reference_prefix`` (the
    champion's): the worst drift severity, and the share of the window's checked columns
    at ``min_severity`` or worse (dataset drift, as Evidently's drift share)."""
    table = tables.table("drift_monitoring")
    if not table.exists() or "reference" not in table.schema().fieldNames():
        return {}
    floor = DriftSeverity(min_severity).rank
    levels: dict[datetime, list[DriftSeverity]] = {}
    for r in table.to_arrow().select(["window", "reference", "severity"]).to_pylist():
        if not (r["reference"] or "").startswith(reference_prefix) or not r["window"]:
            continue
        levels.setdefault(r["window"]["start"].replace(tzinfo=None), []).append(
            DriftSeverity.of(r["severity"])
        )
    return {
        start: (
            DriftSeverity.worst(found),
            sum(level.rank >= floor for level in found) / len(found),
        )
        for start, found in levels.items()
    }
