"""The scheduled monitoring tasks over production windows (``drift_monitoring_workflow``):
each New-York trading day that ended by the job's trigger time and that no earlier run
handled -- drift against the champion's pinned training data, live performance against the
labels -- so a rerun changes nothing. The trigger's task over the same windows is
:mod:`finml.jobs.retrain_trigger`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.jobs.monitoring import DriftCheck, drift_alert, run_drift_check
from finml.log import get_logger
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import MonitoringSettings
from finml.vocabulary import AlertSeverity, AlertType

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from finml.config import ProjectConfig
    from finml.registry import VersionInfo
    from finml.runtime.delta import DeltaTables, Table

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

    from finml import registry
    from finml.serving.models import signature_features
    from finml.serving.settings import ServingSettings

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
    model = mlflow.pyfunc.load_model(uri)
    columns = list(signature_features(model, name))
    current = _unchecked_days(tables, features, predictions, name, champion, reference_id, as_of)
    rows = _current_on_driver(current, columns, serving.score_method)
    if current.isEmpty() if rows is None else rows.empty:
        log.info("drift_nothing_new", reference=reference_id)
        return DriftCheck([], uuid.uuid4().hex)
    if rows is not None:  # few rows: the exact numpy path, scored by the loaded champion
        reference = _reference_on_driver(features, pinned, champion, model, columns)
        frames: tuple[Any, Any] = (reference, rows)
    else:
        method = serving.score_method
        reference = _reference_rows(features, pinned, champion)
        frames = (_scored_reference(config, reference, uri, columns, champion, method), current)
    check = run_drift_check(
        config, spark, None, frames[0], frames[1], "_window", columns=[*columns, "score"]
    )
    _record_drift(tables, check, reference_id, alerts)
    log.info("production_drift", reference=reference_id, windows=len(check.reports))
    return check


def _current_on_driver(current: DataFrame, columns: list[str], method: str) -> pd.DataFrame | None:
    """The unchecked days' rows (``columns``, ``score``, ``_window``) as pandas for the
    exact numpy drift path: with score method ``driver``, or ``auto`` when there are at
    most ``DRIVER_ROWS`` of them; else None (Spark profiles them)."""
    from finml.runtime.delta import collect_small

    if method not in ("auto", "driver"):
        return None
    picked = current.select(*columns, "score", "_window")
    rows = picked.toArrow() if method == "driver" else collect_small(picked)
    return None if rows is None else rows.to_pandas()


def _reference_on_driver(
    features: Table, pinned: int, champion: VersionInfo, model: Any, columns: list[str]
) -> pd.DataFrame:
    """The reference rows as pandas with ``score`` from ``model``, the champion the driver
    loaded, sampled on the driver to :data:`REFERENCE_ROWS` (seeded, over the rows in
    trade-id order, so either read gives the same sample). When ``trade_features`` holds at
    most ``DRIVER_ROWS`` rows (the log's count of its latest version bounds the pinned
    one's: features are only upserted), delta-rs reads version ``pinned`` within the data
    window -- no Spark time travel, whose snapshot of an old version is rebuilt each
    time; else Spark reads it, collected when small, sampled by Spark first when not."""
    import numpy as np
    import pyarrow.compute as pc

    from finml.runtime.delta import DRIVER_ROWS, collect_small
    from finml.serving.scoring import KEYS, predict_on_driver

    picked = [*KEYS, *columns]
    if features.count() <= DRIVER_ROWS:
        rows = features.to_arrow(pinned, _window_predicate(champion)).select(picked)
    else:
        reference = _reference_rows(features, pinned, champion).select(*picked)
        small = collect_small(reference)
        rows = _sampled(reference).toArrow() if small is None else small
    rows = rows.take(pc.sort_indices(rows, [("trade_id", "ascending")]))
    if rows.num_rows > REFERENCE_ROWS:
        keep = np.random.default_rng(17).choice(rows.num_rows, REFERENCE_ROWS, replace=False)
        rows = rows.take(np.sort(keep))
    scored = predict_on_driver(model, rows, tuple(columns), "", "", datetime.now(UTC))
    frame = rows.select(columns).to_pandas()
    frame["score"] = scored.column("score").to_numpy()
    return frame


def _window_predicate(champion: VersionInfo) -> str | None:
    """The champion's recorded data window (tag ``finml.data_window``) as a SQL predicate
    on ``ts``, with UTC ISO literals (a naive bound is UTC); None without one."""
    from finml.runtime.delta import utc_literal

    first, _, last = champion.tags.get("finml.data_window", "").partition("/")
    if not (first and last):
        return None
    return f"ts >= '{utc_literal(first)}' AND ts <= '{utc_literal(last)}'"


def _unchecked_days(
    tables: DeltaTables,
    features: Table,
    predictions: Table,
    name: str,
    champion: VersionInfo,
    reference_id: str,
    as_of: datetime,
) -> DataFrame:
    """The feature rows, with the champion's ``score``, of the trading days that ended by
    ``as_of``, after the champion went live and not yet checked against ``reference_id``
    (column ``_window``: the day)."""
    from pyspark.sql import functions as F

    from finml.models.lifecycle import live_from
    from finml.sources.simulator import last_closed_day

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
    live = live_from(champion.tags)
    if live is not None:  # the holdout days it was chosen on are not production
        current = current.where(F.col("_window") >= F.lit(live))
    if checked:
        current = current.where(~F.col("_window").isin(list(checked)))
    return current


def _reference_rows(features: Table, pinned: int, champion: VersionInfo) -> DataFrame:
    """The champion's training rows: ``trade_features`` at version ``pinned`` within its
    recorded data window (lazy, not sampled)."""
    from pyspark.sql import functions as F

    reference = features.read(version=pinned)
    first, _, last = champion.tags.get("finml.data_window", "").partition("/")
    if first and last:
        reference = reference.where(F.col("ts").between(F.lit(first), F.lit(last)))
    return reference


def _sampled(reference: DataFrame) -> DataFrame:
    """``reference`` sampled by Spark to about :data:`REFERENCE_ROWS` rows (seeded)."""
    total = reference.count()
    if total > REFERENCE_ROWS:
        return reference.sample(fraction=REFERENCE_ROWS / total, seed=17)
    return reference


def _scored_reference(
    config: ProjectConfig,
    reference: DataFrame,
    uri: str,
    columns: list[str],
    champion: VersionInfo,
    score_method: str,
) -> DataFrame:
    """The reference rows with the champion's ``score`` on them, scored by Spark."""
    from finml.serving.scoring import with_predictions

    reference = _sampled(reference)
    return reference.transform(
        with_predictions(
            uri,
            tuple(columns),
            champion.name,
            str(champion.version),
            datetime.now(UTC),
            method="map_in_pandas" if score_method in ("auto", "driver") else score_method,
            stores=(config.tracking_uri, config.registry_uri),
        )
    ).join(reference.select("trade_id", *columns), "trade_id")


def _record_drift(
    tables: DeltaTables, check: DriftCheck, reference_id: str, alerts: AlertManager | None
) -> None:
    """Append the check's rows to ``drift_monitoring`` (``reference``: ``reference_id``) and
    alert on its flagged windows, once per reference and window."""
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
                dedup_key=f"DRIFT:{reference_id}:{_naive(report.window.start)}",
            )
            check.alerts += alerts.send(alert)


def _naive(start: datetime | None) -> datetime | None:
    """A window start as naive UTC, as either drift path gives it (the numpy path's are
    aware), so an alert's dedup key does not depend on the path."""
    if start is None or start.tzinfo is None:
        return start
    return start.astimezone(UTC).replace(tzinfo=None)


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

    from finml.jobs.ensemble_monitoring import monitor_members
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
    labelled = labels.read()
    records = PerformanceMonitor(tables).compute(scored, labelled)
    # members first: a run that stops between the two writes recounts these windows, and
    # the member rows already written are skipped
    monitor_members(config, tables, scored, labelled, records)
    append_records(tables, "model_monitoring", records)
    if alerts is not None:
        _performance_alerts(config, records, alerts)
    log.info("production_performance", windows=len(records))
    return records


def _performance_alerts(
    config: ProjectConfig, records: list[dict[str, Any]], alerts: AlertManager
) -> None:
    """A PERFORMANCE alert per window whose PR-AUC fell more than the policy allows below
    its version's validation PR-AUC."""
    settings = MonitoringSettings.from_config(config)
    for rec in records:
        baseline = validation_metric(config, rec["model_name"], rec["model_version"])
        drop = baseline - rec["pr_auc"] if baseline is not None and rec["pr_auc"] else 0.0
        if drop > settings.policy.max_metric_drop:
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
