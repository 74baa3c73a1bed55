"""The local job runner: run a bundle job from ``resources/*.yml`` through ``spark-submit``.

``run_job(config, "ingestion_workflow")`` reads the same YAML ``databricks bundle deploy``
ships, resolves it for the target, validates the bundle (schema, references, cycles), then
runs the tasks in ``depends_on`` order, one ``spark-submit`` process each, honouring
``max_retries``, ``min_retry_interval_millis``, ``timeout_seconds`` (``retry_on_timeout``),
``run_if``, ``condition_task`` (with task values) and ``for_each_task``. Every attempt,
and every task the run skipped, is a row of ``job_runs`` with its log file.

With ``in_process`` the tasks run in this process instead, one after the other, on its
SparkSession (like tasks sharing a warm job cluster): the same scripts, parameters,
environment variables, task values, retries and ``job_runs`` rows, without a JVM start per
task; a task's timeout is then not enforced (nothing can stop a Python call from outside).
``finml replay`` runs its simulated days this way.

A target that sets ``spark_master`` (``--target cluster``) submits each task to that cluster
with the ``finml`` wheel (:mod:`finml.bundle.cluster`).
"""

from __future__ import annotations

import json
import subprocess  # an argument list, never a shell
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finml.bundle import conditions, in_process, submit
from finml.bundle.cluster import ClusterSpec, cluster_spec
from finml.bundle.dag import run_order
from finml.bundle.loader import parse_job
from finml.bundle.models import ConditionTask, ForEachTask, Job, Task
from finml.bundle.runs import TaskAttempt, record
from finml.bundle.task_values import ENV_FILE, read_task_values
from finml.bundle.validate import local_path, validate_bundle
from finml.bundle.variables import build_context, resolve
from finml.errors import JobError
from finml.log import get_logger
from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("jobs.runner")
BUNDLE_ROOT_ENV = "FINML_BUNDLE_ROOT"  # a task's bundle root (a local run of another job)
# The run's target and variable overrides (JSON): a job a task starts runs in the same
# deployment, as a Databricks job started by ``run_now`` runs with its bundle's variables.
BUNDLE_DEPLOYMENT_ENV = "FINML_BUNDLE_DEPLOYMENT"


@dataclass
class JobRun:
    """The outcome of one job run: final state per task, every attempt, task values."""

    run_id: str
    job: str
    logs_dir: Path
    states: dict[str, RunState] = field(default_factory=dict)
    attempts: list[TaskAttempt] = field(default_factory=list)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not conditions.run_failed(self.states)


def run_job(
    config: ProjectConfig,
    job_key: str,
    *,
    root: str | Path = ".",
    target: str = "local",
    variables: dict[str, str] | None = None,
    on_attempt: Callable[[TaskAttempt], None] | None = None,
    trigger_time: datetime | None = None,
    in_process: bool = False,
) -> JobRun:
    """Run job ``job_key`` of the bundle at ``root`` for ``target`` on this machine.

    ``trigger_time`` is the schedule's fire time when the local scheduler starts the run
    (``{{job.trigger.type}}`` is then ``periodic``, and ``{{job.trigger.time.*}}`` that time,
    simulated or not); without it the run is ``one_time``, triggered now.

    Returns the :class:`JobRun` (check ``.ok``; the CLI exits non-zero when it is false).

    Raises:
        JobError: the bundle is invalid (every problem listed), the job is unknown, or a task
            kind cannot run locally.
    """
    from finml.runtime.delta import DeltaTables

    bundle, problems = validate_bundle(root)
    if problems:
        raise JobError("bundle is invalid:\n  " + "\n  ".join(str(p) for p in problems))
    if job_key not in bundle.jobs:
        raise JobError(f"job {job_key!r}: expected one of {sorted(bundle.jobs)}")
    context = build_context(bundle, target, variables)
    job = parse_job(
        bundle, job_key, resolve(bundle.jobs[job_key], context, f"resources.jobs.{job_key}")
    )
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    run = JobRun(run_id, job_key, config.home / "job_runs" / job_key / run_id)
    run.logs_dir.mkdir(parents=True, exist_ok=True)
    runner = _Runner(config, bundle.root, bundle.source_of("jobs", job_key), context, job, run)
    runner.cluster = cluster_spec(
        context, bundle.root, run.logs_dir / "dist", in_process=in_process
    )
    runner.tables = DeltaTables.from_config(config, None)
    runner.on_attempt = on_attempt
    runner.trigger = (trigger_time or datetime.now(UTC)).astimezone(UTC)
    runner.trigger_type = "periodic" if trigger_time is not None else "one_time"
    runner.in_process = in_process
    runner.deployment = json.dumps({"target": target, "variables": variables or {}})
    log.info("job_started", job=job_key, run_id=run_id, target=target, tasks=len(job.tasks))
    runner.run_all()
    log.info("job_finished", job=job_key, run_id=run_id, ok=run.ok, states=run.states)
    if not run.ok:
        raise_error_alerts(config, run, runner.tables)
    return run


def raise_error_alerts(config: ProjectConfig, run: JobRun, tables: Any) -> None:
    """One ERROR alert per task that failed for good (its last attempt FAILED or TIMEDOUT;
    tasks skipped because of it are not alerted), naming the job, the task and its error,
    deduplicated per (job, task) within the alert settings' window."""
    from finml.monitoring.alerts import Alert, AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.vocabulary import AlertSeverity, AlertType

    last = {attempt.task: attempt for attempt in run.attempts}
    failed = [a for a in last.values() if a.state in (RunState.FAILED, RunState.TIMEDOUT)]
    if not failed:
        return
    try:
        manager = AlertManager(
            MonitoringSettings.from_config(config).alerts, tables, secrets=config.secrets
        )
        for attempt in failed:
            error = (attempt.message or "").strip().splitlines()
            manager.send(
                Alert(
                    AlertType.ERROR,
                    AlertSeverity.HIGH,
                    f"job {run.job}: task {attempt.task} {attempt.state}",
                    error[-1][:500] if error else f"exit code {attempt.exit_code}",
                    source=f"job:{run.job}",
                    details={
                        "run_id": run.run_id,
                        "task": attempt.task,
                        "attempts": attempt.attempt,
                        "exit_code": attempt.exit_code,
                        "logs_path": attempt.logs_path,
                    },
                    dedup_key=f"ERROR:{run.job}:{attempt.task}",
                )
            )
    except Exception as exc:  # an alert that cannot be raised must not hide the job's failure
        log.error("error_alert_not_raised", job=run.job, run_id=run.run_id, error=str(exc))


class _Runner:
    def __init__(
        self, config: ProjectConfig, root: Path, source: Path, context: Any, job: Job, run: JobRun
    ) -> None:
        self.config, self.root, self.source, self.context = config, root, source, context
        self.job, self.run = job, run
        self.tables: Any = None
        self.on_attempt: Callable[[TaskAttempt], None] | None = None
        self.trigger, self.trigger_type = datetime.now(UTC), "one_time"
        self.started = time.monotonic()
        self.params = {p.name: p.default for p in job.parameters}
        self.in_process, self.deployment = False, "{}"
        self.cluster: ClusterSpec | None = None

    def run_all(self) -> None:
        for task in run_order(self.job.tasks):
            key = task.task_key
            skip = conditions.decide(task, self.run.states, self.run.outcomes)
            if skip is not None:
                upstream = ", ".join(
                    f"{d.task_key}={self.run.outcomes.get(d.task_key, self.run.states[d.task_key])}"
                    for d in task.depends_on
                )
                message = f"not run (run_if {task.run_if}; {upstream})"
                self._record(key, 0, skip, datetime.now(UTC), None, None, message)
                self.run.states[key] = skip
                continue
            if self._job_timed_out():
                message = f"not run: job timeout_seconds {self.job.timeout_seconds} exceeded"
                self._record(key, 0, RunState.TIMEDOUT, datetime.now(UTC), None, None, message)
                self.run.states[key] = RunState.TIMEDOUT
                continue
            try:
                self.run.states[key] = self._run_task(task)
            except JobError as exc:  # e.g. a {{tasks...}} value upstream never set
                self._record(key, 1, RunState.FAILED, datetime.now(UTC), None, None, str(exc))
                self.run.states[key] = RunState.FAILED

    # ---- one task ----------------------------------------------------------------------
    def _run_task(self, task: Task) -> RunState:
        key = task.task_key
        if task.condition_task is not None:
            return self._condition(key, task.condition_task)
        if task.for_each_task is not None:
            return self._for_each(key, task.for_each_task)
        return self._with_retries(task, key, {})

    def _condition(self, key: str, cond: ConditionTask) -> RunState:
        started = datetime.now(UTC)
        where = f"resources.jobs.{self.run.job}.tasks.{key}.condition_task"
        filled = cond.model_copy(
            update={
                "left": self._fill(cond.left, key, {}, where),
                "right": self._fill(cond.right, key, {}, where),
            }
        )
        outcome = str(conditions.evaluate(filled)).lower()
        self.run.outcomes[key] = outcome
        message = f"{filled.left!r} {cond.op} {filled.right!r} -> {outcome}"
        self._record(key, 1, RunState.SUCCESS, started, 0, None, message)
        return RunState.SUCCESS

    def _for_each(self, key: str, spec: ForEachTask) -> RunState:
        where = f"resources.jobs.{self.run.job}.tasks.{key}.for_each_task.inputs"
        text = self._fill(spec.inputs, key, {}, where)
        try:
            inputs = json.loads(text)
        except json.JSONDecodeError:
            inputs = None
        if not isinstance(inputs, list):
            raise JobError(f"{where}: expected a JSON array, got {text!r}")
        states = [
            self._with_retries(spec.task, f"{key}[{i}]", {"input": _text(item)})
            for i, item in enumerate(inputs)
        ]
        return RunState.SUCCESS if all(s == RunState.SUCCESS for s in states) else RunState.FAILED

    def _with_retries(self, task: Task, key: str, extra: dict[str, str]) -> RunState:
        if task.max_retries < 0:
            raise JobError(f"task {key}: max_retries -1 (retry forever) is not run locally")
        script, args = self._command(task, key, extra)
        state = RunState.FAILED
        for attempt in range(1, task.max_retries + 2):
            if attempt > 1:
                time.sleep(task.min_retry_interval_millis / 1000)
            state = self._attempt(task, key, attempt, script, args)
            if state == RunState.SUCCESS or (
                state == RunState.TIMEDOUT and not task.retry_on_timeout
            ):
                break
        return state

    def _command(self, task: Task, key: str, extra: dict[str, str]) -> tuple[Path, list[str]]:
        where = f"resources.jobs.{self.run.job}.tasks.{key}"
        fill = lambda text: self._fill(text, key, extra, where)  # noqa: E731
        if task.spark_python_task is not None:
            spec = task.spark_python_task
            script = local_path(spec.python_file, self.source, self.context)
            return script, [fill(p) for p in spec.parameters]
        if task.python_wheel_task is not None:
            wheel = task.python_wheel_task
            named = [f"--{k}={fill(v)}" for k, v in wheel.named_parameters.items()]
            args = [wheel.package_name, wheel.entry_point, *map(fill, wheel.parameters), *named]
            return submit.ENTRY, args
        raise JobError(
            f"{where}: expected spark_python_task, python_wheel_task, condition_task or "
            f"for_each_task to run locally, got {task.kind}"
        )

    def _attempt(
        self, task: Task, key: str, attempt: int, script: Path, args: list[str]
    ) -> RunState:
        log_path = self.run.logs_dir / f"{_safe(key)}.attempt{attempt}.log"
        values_file = self.run.logs_dir / f"{_safe(key)}.values.json"
        values_file.unlink(missing_ok=True)
        extra = {
            ENV_FILE: str(values_file),
            "FINML_JOB_RUN_ID": self.run.run_id,
            "FINML_TASK_KEY": key,
            "FINML_GIT_SHA": self.context.values["bundle.git.commit"],
            BUNDLE_ROOT_ENV: str(Path(self.root).resolve()),
            BUNDLE_DEPLOYMENT_ENV: self.deployment,
        }
        started = datetime.now(UTC)
        log.info("task_started", job=self.run.job, task=key, attempt=attempt, log=str(log_path))
        if self.in_process:
            env = in_process.task_environment(self.config, extra)
            code, state, message = in_process.run_script(script, args, env, log_path)
        else:
            code, state, message = self._spawn(task, key, script, args, extra, log_path)
        if state == RunState.SUCCESS:
            self.run.values[key] = read_task_values(values_file)
        elif message is None:
            message = submit.tail(log_path)
        self._record(key, attempt, state, started, code, str(log_path), message)
        return state

    def _spawn(
        self,
        task: Task,
        key: str,
        script: Path,
        args: list[str],
        extra: dict[str, str],
        log_path: Path,
    ) -> tuple[int | None, RunState, str | None]:
        """The task as its own ``spark-submit`` process, killed at its timeout."""
        name = f"finml:{self.run.job}:{key}"
        cmd = submit.command(self.config, script, args, name, self.cluster)
        env = submit.environment(self.config, extra, self.cluster)
        with log_path.open("w") as out:
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            process = subprocess.Popen(
                cmd,
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            return submit.wait(process, self._timeout(task))

    def _job_timed_out(self) -> bool:
        elapsed = time.monotonic() - self.started
        return bool(self.job.timeout_seconds) and elapsed >= self.job.timeout_seconds

    def _timeout(self, task: Task) -> float | None:
        limits = [float(task.timeout_seconds)] if task.timeout_seconds else []
        if self.job.timeout_seconds:
            limits.append(max(1.0, self.job.timeout_seconds - (time.monotonic() - self.started)))
        return min(limits) if limits else None

    def _fill(self, text: str, key: str, extra: dict[str, str], where: str) -> str:
        def lookup(name: str) -> Any:
            parts = name.split(".")
            if len(parts) == 4 and parts[0] == "tasks" and parts[2] == "values":
                return self.run.values.get(parts[1], {}).get(parts[3])
            if name.startswith("job.parameters."):
                return self.params.get(name.removeprefix("job.parameters."))
            return {
                "job.run_id": self.run.run_id,
                "job.id": self.run.job,
                "job.name": self.job.name,
                "task.name": key,
                "task.run_id": f"{self.run.run_id}:{key}",
                "job.start_time.iso_date": f"{datetime.now(UTC):%Y-%m-%d}",
                "job.trigger.type": self.trigger_type,
                "job.trigger.time.iso_date": f"{self.trigger:%Y-%m-%d}",
                "job.trigger.time.iso_datetime": self.trigger.isoformat(),
                "job.trigger.time.timestamp_ms": str(int(self.trigger.timestamp() * 1000)),
                **extra,
            }.get(name)

        return conditions.fill(text, lookup, where)

    def _record(
        self,
        key: str,
        attempt: int,
        state: RunState,
        started: datetime,
        code: int | None,
        logs: str | None,
        message: str | None,
    ) -> None:
        ended = datetime.now(UTC)
        row = TaskAttempt(
            run_id=self.run.run_id,
            job=self.run.job,
            task=key,
            attempt=attempt,
            state=state,
            start_time=started,
            end_time=ended,
            seconds=(ended - started).total_seconds(),
            exit_code=code,
            logs_path=logs,
            target=self.context.values["bundle.target"],
            git_commit=self.context.values["bundle.git.commit"],
            message=message,
        )
        self.run.attempts.append(row)
        record(self.tables, row)
        log.info("task_finished", job=self.run.job, task=key, attempt=attempt, state=state)
        if self.on_attempt is not None:
            self.on_attempt(row)


def _text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item)


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
