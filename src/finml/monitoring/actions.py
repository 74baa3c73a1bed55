"""What a retraining trigger starts: a local command or a Databricks job.

Actions register by kind with :func:`retrain_action`, so adding one (say, an Airflow DAG
run) is one class and one decorator line. ``action_from_settings`` builds the configured one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from finml.errors import ConfigError
from finml.log import get_logger
from finml.monitoring.settings import RetrainAction

log = get_logger("monitoring.actions")

Status = Literal["succeeded", "started", "failed"]
_LOCAL_JOB = "local:jobs."  # how the local runner resolves ${resources.jobs.<key>.id}
_ACTIONS: dict[str, type[Action]] = {}


@dataclass(frozen=True)
class ActionResult:
    status: Status
    detail: str


class Action(Protocol):
    kind: ClassVar[str]

    def run(self, reason: str) -> ActionResult: ...


def retrain_action(kind: str) -> Callable[[type], type]:
    """Register an action class under ``kind`` (used by ``action.kind`` in the config)."""

    def decorate(cls: type) -> type:
        if kind in _ACTIONS:
            raise ValueError(f"retrain action {kind!r}: registered twice")
        _ACTIONS[kind] = cls
        cls.kind = kind  # type: ignore[attr-defined]
        return cls

    return decorate


@retrain_action("local")
@dataclass
class LocalCommand:
    """Runs ``command`` (no shell) and waits up to ``timeout_seconds``; exit 0 = success."""

    kind: ClassVar[str]

    command: Sequence[str]
    timeout_seconds: float = 3600.0
    env: dict[str, str] | None = None

    def run(self, reason: str) -> ActionResult:
        command = _resolve(list(self.command))
        log.info("retrain_command_start", command=command, reason=reason)
        try:
            done = subprocess.run(  # the command comes from validated config, no shell
                command,
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                env=self.env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ActionResult("failed", f"{type(exc).__name__}: {exc}"[:2000])
        tail = (done.stdout + done.stderr).strip()[-1500:]
        status: Status = "succeeded" if done.returncode == 0 else "failed"
        return ActionResult(status, f"exit {done.returncode}: {tail}")


def _resolve(command: list[str]) -> list[str]:
    """A leading ``finml`` is the CLI of this interpreter's environment (a task process
    need not have the virtualenv on its PATH)."""
    if command and command[0] == "finml" and shutil.which("finml") is None:
        beside = Path(sys.executable).with_name("finml")
        if beside.is_file():
            return [str(beside), *command[1:]]
    return command


@retrain_action("databricks")
@dataclass
class DatabricksJob:
    """Starts Databricks job ``job_id`` with ``jobs.run_now`` (does not wait for it).

    ``client_factory`` defaults to ``databricks.sdk.WorkspaceClient`` (auth from the usual
    ``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN`` environment or profile).
    """

    kind: ClassVar[str]

    job_id: int
    job_parameters: dict[str, str] = field(default_factory=dict)
    client_factory: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.job_id, bool) or not isinstance(self.job_id, int) or self.job_id < 1:
            raise ConfigError(f"action.job_id: expected a positive integer, got {self.job_id!r}")
        bad = {k: v for k, v in self.job_parameters.items() if not isinstance(v, str)}
        if bad:
            raise ConfigError(f"action.job_parameters: expected string values, got {bad}")

    def run_now_arguments(self, reason: str) -> dict[str, Any]:
        """The keyword arguments passed to ``WorkspaceClient().jobs.run_now``."""
        return {
            "job_id": self.job_id,
            "job_parameters": {**self.job_parameters, "retrain_reason": reason[:500]},
        }

    def run(self, reason: str) -> ActionResult:
        factory = self.client_factory or _workspace_client
        try:
            waiter = factory().jobs.run_now(**self.run_now_arguments(reason))
        except Exception as exc:  # the SDK raises many types; all mean "not started"
            return ActionResult("failed", f"{type(exc).__name__}: {exc}"[:2000])
        run_id = getattr(waiter, "run_id", None) or getattr(
            getattr(waiter, "response", None), "run_id", None
        )
        return ActionResult("started", f"databricks job {self.job_id} run_id={run_id}")


def _workspace_client() -> Any:
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient()


LocalJobFactory = Callable[[str], Action]


def action_from_settings(
    settings: RetrainAction, local_job: LocalJobFactory | None = None
) -> Action:
    """The action configured in ``monitoring.action``. Kind ``job`` is built by
    ``local_job`` (job key -> action): the local job runner lives above this package.

    Raises:
        ConfigError: the kind is not registered, or is ``job`` without a local job runner.
    """
    if settings.kind == "job":
        if local_job is None:
            raise ConfigError(
                "action.kind: 'job' runs the bundle job inside a local job run "
                "(finml job run, finml scheduler); expected 'local' or 'databricks' here"
            )
        return local_job(settings.job)
    if settings.kind not in _ACTIONS:
        raise ConfigError(f"action.kind: expected one of {sorted(_ACTIONS)}, got {settings.kind!r}")
    if settings.kind == "databricks":
        return DatabricksJob(job_id=settings.job_id or 0)
    return LocalCommand(settings.command, settings.timeout_seconds)


def action_for_job(
    settings: RetrainAction, job: str | None, local_job: LocalJobFactory | None = None
) -> Action:
    """The action that starts the retraining job the bundle names: on Databricks,
    ``${resources.jobs.retraining_workflow.id}`` resolves to the job's numeric id and the
    action is :class:`DatabricksJob` with it; locally it resolves to ``local:jobs.<key>``
    (or nothing is passed) and the configured ``monitoring.action`` runs (kind ``job``:
    the referenced job, through ``local_job``).

    Raises:
        ConfigError: ``job`` is neither a positive job id nor a local reference.
    """
    if not job or job.startswith("local:"):
        if settings.kind == "job" and job and job.startswith(_LOCAL_JOB):
            settings = settings.model_copy(update={"job": job.removeprefix(_LOCAL_JOB)})
        return action_from_settings(settings, local_job)
    if not job.isdigit():
        raise ConfigError(
            f"--retrain-job: expected a Databricks job id or local:jobs.<key>, got {job!r}"
        )
    return DatabricksJob(int(job))
