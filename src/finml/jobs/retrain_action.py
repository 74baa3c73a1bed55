"""Retraining action kind ``job``: the bundle's retraining job run by the local job runner
in the trigger's own process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from finml.errors import FinmlError
from finml.log import get_logger
from finml.monitoring.actions import ActionResult, Status

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("jobs.retrain_action")


@dataclass(frozen=True)
class LocalJob:
    """Retraining action kind ``job``: runs bundle job ``job`` with the local job runner in
    this process (its tasks in process too: no process or JVM start, the session shared)
    and waits; succeeded when every task did."""

    kind: ClassVar[str] = "job"

    config: ProjectConfig
    job: str
    root: Path
    target: str = "local"
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, reason: str) -> ActionResult:
        from finml.jobs.runner import run_job

        log.info("retrain_job_start", job=self.job, target=self.target, reason=reason)
        try:
            run = run_job(
                self.config,
                self.job,
                root=self.root,
                target=self.target,
                variables=self.variables,
                in_process=True,
            )
        except FinmlError as exc:  # an invalid bundle, an unknown job
            return ActionResult("failed", f"{type(exc).__name__}: {exc}"[:2000])
        states = ", ".join(f"{task} {state}" for task, state in run.states.items())
        status: Status = "succeeded" if run.ok else "failed"
        return ActionResult(status, f"job {self.job} run {run.run_id}: {states}"[:2000])


def local_job_action(config: ProjectConfig) -> Callable[[str], LocalJob]:
    """Builds kind ``job`` actions for a task of a local job run: the runner names the
    bundle root and the run's deployment (target and variables), which the retraining run
    keeps; outside a run, the working directory and the ``local`` target."""
    from finml.jobs.runner import BUNDLE_DEPLOYMENT_ENV, BUNDLE_ROOT_ENV

    root = Path(os.environ.get(BUNDLE_ROOT_ENV) or ".")
    deployment = json.loads(os.environ.get(BUNDLE_DEPLOYMENT_ENV) or "{}")
    target = str(deployment.get("target") or "local")
    variables = {str(k): str(v) for k, v in (deployment.get("variables") or {}).items()}
    return lambda job: LocalJob(config, job, root, target, variables)
