"""``finml replay``: the loop living over simulated days, through the real job YAMLs.

From an empty home, a seeded market (with a volatility/volume shift from ``drift_day``) is
delivered day by day: the local scheduler runs on a simulated clock, and on each trading day
it fires the bundle's scheduled jobs through the local job runner (every task in this
process, on one SparkSession): ingestion (the simulator source delivers the session that
closed, then medallion and feature store), batch inference (new trades scored by the
champion), drift monitoring (drift, live performance, rollback check, retraining trigger,
which runs the retraining workflow in process -- action kind ``job``: tournament, holdout
gate, replay A/B, promotion) and the dashboard export. Nothing here is a demo-only path:
the replay only chooses the schedules (bundle variables, one fire per trading day, in
pipeline order), the market and the clock. ``bad_model_day`` forces a deliberately bad
model to ``@champion`` through the registry API (audited as a manual promotion), for the
rollback check to catch.

The nightly retraining schedule does not fire in a replay: retraining starts only from the
trigger, so every retrain in the timeline has an audited reason.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import yaml

from finml.errors import ConfigError
from finml.log import get_logger
from finml.vocabulary import DriftSeverity, RetrainDecision

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.jobs.scheduler import Fire, Scheduler
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.replay")

SCHEDULED_JOBS = (
    "ingestion_workflow",
    "batch_inference_job",
    "drift_monitoring_workflow",
    "dashboard_export_job",
)
# One fire per trading day, after the extended session ends (20:00 New York, 01:00 UTC in
# winter), in pipeline order; Tuesday to Saturday, for the Monday to Friday sessions.
SCHEDULES = {
    "ingestion_schedule": "0 15 1 ? * TUE-SAT",
    "batch_inference_schedule": "0 30 1 ? * TUE-SAT",
    "drift_monitoring_schedule": "0 45 1 ? * TUE-SAT",
    "dashboard_schedule": "0 0 2 ? * SAT",
}
DAY_END = time(2, 30)  # every fire of a trading day is done by then (UTC, the next day)


@dataclass(frozen=True)
class ReplayPlan:
    """What to replay: the market and the incidents."""

    days: int = 30
    drift_day: int | None = 15
    bad_model_day: int | None = None
    trades_per_day: int = 400
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "JPM")
    seed: int = 7
    training_days: int = 6
    anomaly_rate: float = 0.02
    # Optuna trials per tuned candidate of each retrain's tournament: the bundle variable
    # ``tuning_trials`` of the replay's runs (None: the bundle's default, 10).
    tuning_trials: int | None = None

    def __post_init__(self) -> None:
        if self.tuning_trials is not None and self.tuning_trials < 0:
            trials = self.tuning_trials
            raise ConfigError(f"replay --tuning-trials: expected 0 or more, got {trials}")
        if self.days < 8:
            raise ConfigError(f"replay --days: expected at least 8 trading days, got {self.days}")
        for name in ("drift_day", "bad_model_day"):
            day = getattr(self, name)
            if day is not None and not 1 <= day < self.days:
                option = name.replace("_", "-")
                raise ConfigError(f"replay --{option}: expected 1..{self.days - 1}, got {day}")


class TimelineDay(TypedDict):
    """One trading day of the replay timeline (``replay_timeline.json``, ``finml replay``)."""

    day: date
    trades: int
    drift: str | None  # the worst severity of the day's drift checks
    drift_share: float | None  # share of checked columns at HIGH
    decision: str | None  # the retraining trigger's decision
    reason: str | None
    model_version: str | None  # the version that scored the day
    pr_auc: float | None
    events: list[object]


@dataclass
class ReplayResult:
    home: Path
    timeline: list[TimelineDay] = field(default_factory=list)
    fires: int = 0
    failed_fires: list[str] = field(default_factory=list)
    seconds_per_day: list[float] = field(default_factory=list)
    dashboard: Path | None = None


def replay_config(base: ProjectConfig, home: Path, plan: ReplayPlan) -> Path:
    """Write the replay's config file into ``home``: the project's file with the replay's
    home, market, training window and trigger policy; returns its path."""
    source = base.source_file
    data: dict[str, Any] = yaml.safe_load(source.read_text()) if source else {}
    data = data or {"project": "finml", "default_env": base.env}
    env = base.env
    data.setdefault("environments", {}).setdefault(env, {})["home"] = str(home)
    data["environments"][env].pop("landing", None)
    data["default_env"] = env
    drift = {"start_day": plan.drift_day, "vol_multiplier": 3.0, "volume_multiplier": 2.5}
    data["simulator"] = {
        **(data.get("simulator") or {}),
        "seed": plan.seed,
        "symbols": list(plan.symbols),
        "days": plan.days,
        "trades_per_day": plan.trades_per_day,
        "anomaly_rate": plan.anomaly_rate,
        # One market regime throughout: the only distribution shift is the drift scenario's,
        # so a flagged window before it is a false alarm, not a regime switch.
        "transition": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        "drift": drift if plan.drift_day else None,
    }
    data["features"] = {**(data.get("features") or {}), "training_days": plan.training_days}
    models = data.get("models") or {}
    # Half the replayed day's trades per arm: a simulated market risks nothing.
    models["replay_ab"] = {"challenger_percent": 50, **(models.get("replay_ab") or {})}
    # Two walk-forward folds: the first fold of a first model (5 days) then reaches past
    # the first 300 trades of each symbol, which the simulator keeps free of anomalies.
    models.setdefault("folds", 2)
    data["models"] = models
    monitoring = data.get("monitoring") or {}
    monitoring["policy"] = {
        "violations_needed": 1,
        "window_count": 2,
        "cooldown_hours": 48,
        "max_per_day": 1,
        "min_new_samples": 1000,
        "min_drift_severity": DriftSeverity.HIGH.value,
        "max_metric_drop": 0.1,
        **(monitoring.get("policy") or {}),
    }
    # The trigger starts the retraining job the bundle names, with the local job runner in
    # the replay's own process (as every scheduled task runs here).
    monitoring["action"] = {"kind": "job", **(monitoring.get("action") or {})}
    data["monitoring"] = monitoring
    home.mkdir(parents=True, exist_ok=True)
    path = home / "replay_config.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_replay(
    base: ProjectConfig,
    plan: ReplayPlan,
    *,
    home: Path,
    root: Path = Path("."),
    fresh: bool = False,
    on_day: Any = None,
) -> ReplayResult:
    """Replay ``plan`` from an empty ``home`` (``fresh`` empties it first).

    Raises:
        ConfigError: ``home`` holds an earlier replay and ``fresh`` is not set.
    """
    from finml.jobs.runner import run_job
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark
    from finml.sources.simulator import trading_dates

    home = home.resolve()
    config = _replay_home(base, plan, home, root, fresh)
    # the session every in-process task shares, for the whole replay: the full JIT pays off
    long_lived = config.spark.model_copy(update={"jit": "tiered"})
    get_spark(config.model_copy(update={"spark": long_lived}), app_name="finml-replay")
    tables = DeltaTables.from_config(config, None)
    variables = _replay_variables(plan)
    days = trading_dates(config.simulator.start_date, plan.days)
    scheduler = _replay_scheduler(config, tables, root, variables, days[0])
    result = ReplayResult(home)
    for index, day in enumerate(days):
        fires = _replay_day(scheduler, config, tables, plan, days, index, result)
        if on_day is not None:
            on_day(index, day, fires)
    run_job(
        config,
        "dashboard_export_job",
        root=root,
        target="local",
        variables=variables,
        in_process=True,
    )
    result.dashboard = config.home / "dashboard" / "index.html"
    result.timeline = timeline(tables, days)
    (home / "replay_timeline.json").write_text(json.dumps(result.timeline, default=str, indent=1))
    return result


def _replay_home(
    base: ProjectConfig, plan: ReplayPlan, home: Path, root: Path, fresh: bool
) -> ProjectConfig:
    """Empty ``home`` (or refuse), write the replay's config there and point this process's
    environment at it.

    Raises:
        ConfigError: ``home`` holds an earlier replay and ``fresh`` is not set.
    """
    from finml.config import ProjectConfig

    if home.exists() and any(home.iterdir()):
        if not fresh:
            raise ConfigError(f"replay home {home}: expected an empty folder (or --fresh)")
        shutil.rmtree(home)
    path = replay_config(base, home, plan)
    # This process runs the replay's tasks (and starts its retrains): its environment names
    # the replay's home and config, whatever the caller's said.
    for variable in ("FINML_WAREHOUSE", "FINML_LANDING", "FINML_CATALOG", "FINML_SCHEMA"):
        os.environ.pop(variable, None)
    os.environ.update(FINML_HOME=str(home), FINML_CONFIG=str(path), FINML_ENV=base.env)
    return ProjectConfig.from_yaml(path, base.env)


def _replay_variables(plan: ReplayPlan) -> dict[str, str]:
    """The bundle variables of a replay: its schedules, unpaused, and its market."""
    return {
        **SCHEDULES,
        "pause_status": "UNPAUSED",
        "sim_as_of": "{{job.trigger.time.iso_datetime}}",
        "sim_days": str(plan.days),
        "sim_trades_per_day": str(plan.trades_per_day),
        **({"tuning_trials": str(plan.tuning_trials)} if plan.tuning_trials is not None else {}),
    }


def _replay_scheduler(
    config: ProjectConfig,
    tables: DeltaTables,
    root: Path,
    variables: dict[str, str],
    first_day: date,
) -> Scheduler:
    """The local scheduler of the replayed jobs, on a simulated clock from ``first_day``."""
    from finml.bundle.schedules import load_schedules
    from finml.jobs.scheduler import DeltaFireLog, Scheduler, SimulatedClock, runner_launcher

    start = datetime.combine(first_day, time(0), UTC)
    return Scheduler(
        load_schedules(root, "local", variables, list(SCHEDULED_JOBS)),
        runner_launcher(config, root=root, target="local", variables=variables, in_process=True),
        clock=SimulatedClock(start),
        fires=DeltaFireLog(tables),
        since=start,
        poll_seconds=None,
    )


def _replay_day(
    scheduler: Scheduler,
    config: ProjectConfig,
    tables: DeltaTables,
    plan: ReplayPlan,
    days: list[date],
    index: int,
    result: ReplayResult,
) -> list[Fire]:
    """Run the fires of trading day ``days[index]`` (and its incident), recorded in
    ``result``; returns the fires."""
    day = days[index]
    started = datetime.now(UTC)
    fires = scheduler.run(until=datetime.combine(day + timedelta(days=1), DAY_END, UTC))
    result.fires += len(fires)
    result.failed_fires += [f"{day} {f.job}: {f.message}" for f in fires if not f.ok]
    if plan.bad_model_day is not None and index == plan.bad_model_day:
        force_bad_model(config, tables, live_from=_next_day_start(days, index))
    result.seconds_per_day.append((datetime.now(UTC) - started).total_seconds())
    return fires


def _next_day_start(days: list[date], index: int) -> datetime | None:
    if index + 1 >= len(days):
        return None
    return datetime.combine(days[index + 1], time(0), UTC)


def force_bad_model(
    config: ProjectConfig, tables: DeltaTables, *, live_from: datetime | None = None
) -> int:
    """Fit a model on shuffled labels of ``train_set`` (it learned nothing), register it
    with its honest holdout PR-AUC and make it ``@champion`` through the registry API,
    audited as a manual promotion. Returns its version."""
    import mlflow
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline

    from finml import registry
    from finml.features import LABEL_COLUMN, feature_columns
    from finml.models.lifecycle import promote_manual
    from finml.serving.sample_model import ThresholdClassifier, log_threshold_model

    train = tables.require("train_set").to_arrow().to_pandas()
    test = tables.require("test_set").to_arrow().to_pandas()
    names = tuple(feature_columns(train))
    x = train[list(names)].to_numpy(np.float64)
    shuffled = np.random.default_rng(0).permutation(train[LABEL_COLUMN].to_numpy())
    # Features have nulls (a window before its first full length): imputed, as any model's.
    classifier = make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0),
                               LogisticRegression(max_iter=200)).fit(x, shuffled)  # fmt: skip
    model = ThresholdClassifier(classifier, names, 0.5)
    holdout = classifier.predict_proba(test[list(names)].to_numpy(np.float64))[:, 1]
    pr_auc = float(average_precision_score(test[LABEL_COLUMN], holdout))
    experiment_id = registry.configure(config, registry.ANOMALY_EXPERIMENT)
    with mlflow.start_run(run_name="replay-bad-model", experiment_id=experiment_id):
        info = log_threshold_model(model, "bad_model")
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    tags = {"finml.metric.pr_auc": f"{pr_auc:.6f}", "finml.candidate": "shuffled_labels"}
    version = registry.register(config, info.model_uri, name, tags=tags).version
    promote_manual(
        config,
        tables,
        version,
        "replay --bad-model-day: a model fitted on shuffled labels",
        live_from=live_from,
    )
    log.info("bad_model_forced", version=version, holdout_pr_auc=round(pr_auc, 4))
    return version


def timeline(tables: DeltaTables, days: list[date]) -> list[TimelineDay]:
    """One row per trading day: trades, drift (the worst column's severity and the share of
    checked columns at HIGH), trigger decision, the version that scored the day, its live
    PR-AUC, and registry events decided while that day was monitored."""
    rows: dict[date, TimelineDay] = {
        d: {"day": d, "trades": 0, "drift": None, "drift_share": None, "decision": None,
            "reason": None, "model_version": None, "pr_auc": None, "events": []}
        for d in days
    }  # fmt: skip
    for r in _rows(tables, "trade_features", ["_trade_date"]):
        if r["_trade_date"] in rows:
            rows[r["_trade_date"]]["trades"] += 1
    checked: dict[date, list[DriftSeverity]] = {}
    for r in _rows(tables, "drift_monitoring", ["window", "severity"]):
        day = _day(r["window"])
        if day in rows:
            checked.setdefault(day, []).append(DriftSeverity.of(r["severity"]))
    for day, levels in checked.items():
        rows[day]["drift"] = DriftSeverity.worst(levels).value
        rows[day]["drift_share"] = round(levels.count(DriftSeverity.HIGH) / len(levels), 3)
    for r in _rows(tables, "model_monitoring", ["window", "model_version", "pr_auc"]):
        day = _day(r["window"])
        if day in rows and r["pr_auc"] is not None:
            rows[day]["model_version"], rows[day]["pr_auc"] = r["model_version"], r["pr_auc"]
    for r in _rows(tables, "retraining_audit", ["decision", "reason", "conditions"]):
        end = json.loads(r["conditions"] or "{}").get("observation", {}).get("window_end")
        day = (datetime.fromisoformat(end) - timedelta(days=1)).date() if end else None
        if day in rows and rows[day]["decision"] != RetrainDecision.TRIGGER:
            rows[day]["decision"], rows[day]["reason"] = r["decision"], r["reason"]
    return [rows[d] for d in days]


def _rows(tables: DeltaTables, name: str, columns: list[str]) -> list[dict[str, Any]]:
    table = tables.table(name)
    if not table.exists():
        return []
    data = table.to_arrow()
    return data.select([c for c in columns if c in data.column_names]).to_pylist()


def _day(window: dict[str, datetime] | None) -> date | None:
    return window["start"].date() if window and window.get("start") else None
