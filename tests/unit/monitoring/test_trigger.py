"""Retraining policy with a controllable clock; audit rows in a real Delta table."""

from __future__ import annotations

import itertools
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from finml.errors import ConfigError
from finml.monitoring.actions import DatabricksJob, LocalCommand, action_from_settings
from finml.monitoring.settings import RetrainAction, TriggerPolicy
from finml.monitoring.trigger import Observation, RetrainingTrigger
from finml.runtime.delta import DeltaTables

BAD = Observation(drift_severity="HIGH", new_samples=5000)
GOOD = Observation(drift_severity="NONE", new_samples=5000)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 3, 4, 8, 0, tzinfo=UTC))


def test_n_of_m_windows(clock: Clock) -> None:
    trigger = RetrainingTrigger(TriggerPolicy(violations_needed=2, window_count=3), now=clock)
    assert trigger.evaluate(BAD).decision == "skip"  # 1 of 1
    assert "1 of the last 1" in trigger.decisions[-1].reason
    assert trigger.evaluate(GOOD).decision == "skip"  # 1 of 2
    assert trigger.evaluate(BAD).triggered  # 2 of 3


def test_cooldown_and_daily_limit_hold_under_repeated_triggers(clock: Clock) -> None:
    policy = TriggerPolicy(
        violations_needed=1, window_count=1, cooldown_hours=2, max_per_day=3, min_new_samples=0
    )
    trigger = RetrainingTrigger(policy, now=clock)
    fired: list[datetime] = []
    for _ in range(24 * 6 * 2):  # every 10 minutes for two days, always violating
        if trigger.evaluate(BAD).triggered:
            fired.append(clock())
        clock.advance(minutes=10)
    gaps = [b - a for a, b in itertools.pairwise(fired)]
    assert all(g >= timedelta(hours=2) for g in gaps)
    per_day: dict[object, int] = {}
    for t in fired:
        per_day[t.date()] = per_day.get(t.date(), 0) + 1
    assert max(per_day.values()) == 3  # the cap is reached and never exceeded
    reasons = {d.reason.split(":")[0] for d in trigger.decisions if not d.triggered}
    assert {"cooldown", "daily limit"} <= reasons


def test_min_new_samples_accumulate_since_last_retrain(clock: Clock) -> None:
    policy = TriggerPolicy(violations_needed=1, window_count=1, min_new_samples=1000)
    trigger = RetrainingTrigger(policy, now=clock)
    small = Observation(drift_severity="HIGH", new_samples=400)
    assert "400 new samples" in trigger.evaluate(small).reason
    assert trigger.evaluate(small).decision == "skip"  # 800
    assert trigger.evaluate(small).triggered  # 1200


def test_performance_quality_and_schedule_conditions(clock: Clock) -> None:
    policy = TriggerPolicy(
        violations_needed=1, window_count=1, min_new_samples=0, max_metric_drop=0.05,
        min_quality_score=0.9, schedule_hours=24, cooldown_hours=0,
    )  # fmt: skip
    trigger = RetrainingTrigger(policy, now=clock)
    drop = trigger.evaluate(Observation(metric=0.60, baseline_metric=0.70))
    assert drop.triggered and "metric dropped" in drop.reason
    clock.advance(hours=1)
    assert trigger.evaluate(Observation(metric=0.68, baseline_metric=0.70)).decision == "skip"
    clock.advance(hours=1)
    assert "quality score" in trigger.evaluate(Observation(quality_score=0.5)).reason
    clock.advance(hours=25)
    scheduled = trigger.evaluate(Observation())
    assert scheduled.triggered and scheduled.reason == "schedule due"


def test_every_decision_is_audited_and_memory_survives_restart(config, clock: Clock) -> None:
    tables = DeltaTables.from_config(config, None)
    policy = TriggerPolicy(
        violations_needed=2, window_count=3, cooldown_hours=6, max_per_day=2, min_new_samples=0
    )
    ok = LocalCommand([sys.executable, "-c", "print('retrained')"])
    first = RetrainingTrigger(policy, ok, tables, now=clock)
    first.evaluate(BAD)
    decision = first.evaluate(BAD)
    assert decision.triggered and decision.action_status == "succeeded"
    assert "retrained" in decision.action_detail
    clock.advance(hours=1)
    second = RetrainingTrigger(policy, ok, tables, now=clock)  # a new process, same audit
    second.evaluate(BAD)
    blocked = second.evaluate(BAD)
    assert blocked.decision == "skip" and blocked.reason.startswith("cooldown")
    rows = sorted(
        tables.table("retraining_audit").to_arrow().to_pylist(), key=lambda r: r["sequence"]
    )
    assert [r["decision"] for r in rows] == ["skip", "trigger", "skip", "skip"]
    assert rows[1]["action"] == "local" and rows[1]["action_status"] == "succeeded"
    conditions = json.loads(rows[0]["conditions"])
    assert conditions["violations"] == ["drift: drift severity HIGH >= HIGH"]
    assert conditions["signals"] == ["drift"]
    assert all(r["reason"] for r in rows)


def test_failing_local_command_is_recorded_as_failed(clock: Clock) -> None:
    policy = TriggerPolicy(violations_needed=1, window_count=1, min_new_samples=0)
    bad = LocalCommand([sys.executable, "-c", "import sys; sys.exit(3)"])
    decision = RetrainingTrigger(policy, bad, now=clock).evaluate(BAD)
    assert decision.triggered and decision.action_status == "failed"
    assert decision.action_detail.startswith("exit 3")
    missing = LocalCommand(["/nonexistent/finml-binary"]).run("test")
    assert missing.status == "failed" and "FileNotFoundError" in missing.detail


class _RecordingJobs:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def run_now(self, **kwargs):
        self.calls.append(kwargs)
        return type("Wait", (), {"run_id": 991})()


class _Client:
    def __init__(self) -> None:
        self.jobs = _RecordingJobs()


def test_databricks_action_arguments() -> None:
    client = _Client()
    job = DatabricksJob(job_id=123, job_parameters={"target": "dev"}, client_factory=lambda: client)
    result = job.run("drift HIGH")
    assert client.jobs.calls == [
        {"job_id": 123, "job_parameters": {"target": "dev", "retrain_reason": "drift HIGH"}}
    ]
    assert result.status == "started" and "run_id=991" in result.detail
    with pytest.raises(ConfigError, match=r"action\.job_id: expected a positive integer"):
        DatabricksJob(job_id=0)
    with pytest.raises(ConfigError, match="job_parameters: expected string values"):
        DatabricksJob(job_id=1, job_parameters={"n": 3})  # type: ignore[dict-item]
    broken = DatabricksJob(
        job_id=5, client_factory=lambda: (_ for _ in ()).throw(ValueError("no host"))
    )
    assert broken.run("x").status == "failed"
    assert isinstance(
        action_from_settings(RetrainAction(kind="databricks", job_id=7)), DatabricksJob
    )


def test_each_signal_counts_its_own_n_of_m(config, clock: Clock) -> None:
    drifted = Observation(
        drift_severity="HIGH", metric=0.80, baseline_metric=0.80, new_samples=5000
    )
    worse = Observation(drift_severity="NONE", metric=0.60, baseline_metric=0.80, new_samples=5000)
    policy = TriggerPolicy(violations_needed=2, window_count=3, cooldown_hours=0)
    tables = DeltaTables.from_config(config, None)
    trigger = RetrainingTrigger(policy, tables=tables, now=clock)
    # One drifted window and one worse window: two signals, one window each -> no trigger.
    assert trigger.evaluate(drifted).decision == "skip"
    assert trigger.evaluate(worse).decision == "skip"
    fired = trigger.evaluate(worse)  # the second window of the performance signal
    assert fired.decision == "trigger"
    assert fired.reason.startswith("performance: 2 of the last 3 windows violated")
    # A new process restores each signal's history from the audit (cleared by the trigger).
    clock.advance(hours=1)
    again = RetrainingTrigger(policy, tables=tables, now=clock)
    assert again.evaluate(drifted).decision == "skip"
    assert again.evaluate(drifted).reason.startswith("drift: 2 of the last 2")


def test_a_first_model_starts_once_enough_data_and_respects_the_cooldown(clock: Clock) -> None:
    trigger = RetrainingTrigger(TriggerPolicy(cooldown_hours=24), now=clock)
    waiting = trigger.start_without_champion(None, Observation(new_samples=10))
    assert waiting.decision == "skip" and "no champion yet" in waiting.reason
    first = trigger.start_without_champion("no champion yet: 5 days", Observation())
    assert first.decision == "trigger" and first.reason == "no champion yet: 5 days"
    clock.advance(hours=2)
    blocked = trigger.start_without_champion("no champion yet: 5 days", Observation())
    assert blocked.decision == "skip" and blocked.reason.startswith("cooldown")


def test_a_window_drifts_only_when_enough_of_its_columns_do(clock: Clock) -> None:
    # Dataset drift: one column's HIGH PSI in a window of 23 is noise; half of them is drift.
    policy = TriggerPolicy(
        violations_needed=1, window_count=1, cooldown_hours=0, min_drift_share=0.5
    )
    trigger = RetrainingTrigger(policy, now=clock)
    few = Observation(drift_severity="HIGH", drift_share=4 / 23, new_samples=5000)
    assert trigger.evaluate(few).decision == "skip"
    clock.advance(days=1)
    many = Observation(drift_severity="HIGH", drift_share=13 / 23, new_samples=5000)
    decision = trigger.evaluate(many)
    assert decision.triggered
    assert "drift in 57% of columns at HIGH or worse (>= 50%); worst HIGH" in decision.reason


def test_the_bundles_retrain_job_reference_picks_the_action() -> None:
    from finml.monitoring.actions import action_for_job

    local = RetrainAction(command=["finml", "job", "run", "retraining_workflow"])
    on_databricks = action_for_job(local, "912345678")
    assert isinstance(on_databricks, DatabricksJob) and on_databricks.job_id == 912345678
    for here in ("local:jobs.retraining_workflow", None, ""):
        action = action_for_job(local, here)
        assert isinstance(action, LocalCommand) and action.command[-1] == "retraining_workflow"
    with pytest.raises(ConfigError, match="--retrain-job: expected a Databricks job id"):
        action_for_job(local, "retraining_workflow")


def test_kind_job_runs_the_referenced_bundle_job_through_the_local_runner(tmp_path) -> None:
    from finml.jobs.retrain_action import LocalJob, local_job_action
    from finml.monitoring.actions import action_for_job

    built: list[str] = []

    def factory(job: str) -> LocalCommand:
        built.append(job)
        return LocalCommand(["true"])

    in_process = RetrainAction(kind="job")
    # The bundle's reference names the job; without one, the configured key.
    action_for_job(in_process, "local:jobs.nightly_retrain", factory)
    action_for_job(in_process, None, factory)
    assert built == ["nightly_retrain", "retraining_workflow"]
    on_databricks = action_for_job(in_process, "912345678", factory)
    assert isinstance(on_databricks, DatabricksJob) and on_databricks.job_id == 912345678
    with pytest.raises(ConfigError, match="'job' runs the bundle job inside a local job run"):
        action_from_settings(in_process)
    # A real local run of a bundle without that job: failed, naming it, not raised.
    (tmp_path / "databricks.yml").write_text("bundle:\n  name: empty\n")
    from finml.config import ProjectConfig

    action = local_job_action(ProjectConfig.load())("retraining_workflow")
    assert isinstance(action, LocalJob)
    action = LocalJob(action.config, "retraining_workflow", tmp_path)
    result = action.run("drift")
    assert result.status == "failed" and "retraining_workflow" in result.detail


def test_kind_job_keeps_the_deployment_of_the_run_that_starts_it(monkeypatch) -> None:
    from finml.config import ProjectConfig
    from finml.jobs.retrain_action import local_job_action
    from finml.jobs.runner import BUNDLE_DEPLOYMENT_ENV, BUNDLE_ROOT_ENV

    deployment = {"target": "dev", "variables": {"tuning_trials": "3", "catalog": "c"}}
    monkeypatch.setenv(BUNDLE_DEPLOYMENT_ENV, json.dumps(deployment))
    monkeypatch.setenv(BUNDLE_ROOT_ENV, "/bundle")
    action = local_job_action(ProjectConfig.load())("retraining_workflow")
    assert (action.target, action.variables) == ("dev", {"tuning_trials": "3", "catalog": "c"})
    assert str(action.root) == "/bundle"
    monkeypatch.delenv(BUNDLE_DEPLOYMENT_ENV)
    outside = local_job_action(ProjectConfig.load())("retraining_workflow")
    assert (outside.target, outside.variables) == ("local", {})


def test_a_windows_metric_over_too_few_anomalies_is_not_evidence(clock: Clock) -> None:
    policy = TriggerPolicy(
        violations_needed=1, window_count=1, max_metric_drop=0.1, min_window_positives=30
    )
    trigger = RetrainingTrigger(policy, now=clock)
    few = Observation(metric=0.83, baseline_metric=0.97, positives=19, new_samples=5000)
    assert trigger.evaluate(few).decision == "skip"
    clock.advance(days=1)
    enough = Observation(metric=0.83, baseline_metric=0.97, positives=56, new_samples=5000)
    decision = trigger.evaluate(enough)
    assert decision.triggered and "metric dropped 0.1400 > 0.1" in decision.reason
