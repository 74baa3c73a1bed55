"""Typed models of what FinML's local runner executes and reads (pydantic v2).

These are not the bundle's schema: ``finml bundle validate`` checks every file against the
Databricks bundle schema (:mod:`finml.bundle.schema`: FinML's models of the top level and
targets, the ``databricks-bundles`` resources). The job, task and pipeline models forbid
unknown fields, so a job the runner cannot execute (a ``notebook_task``, say) fails
:func:`finml.bundle.loader.parse_job` naming file and key instead of running half of it.
:class:`JobGraph` is a view: it reads any job's task graph and ignores every other key (the
schema has judged them). Free-form blocks Databricks owns in full (clusters, notifications,
permissions) are plain mappings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from finml.settings_base import StrictModel

RunIf = Literal[
    "ALL_SUCCESS",
    "AT_LEAST_ONE_SUCCESS",
    "NONE_FAILED",
    "ALL_DONE",
    "AT_LEAST_ONE_FAILED",
    "ALL_FAILED",
]
ConditionOp = Literal[
    "EQUAL_TO",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
]
PauseStatus = str  # "PAUSED" | "UNPAUSED", usually "${var.pause_status}" before resolution


class Dependency(StrictModel):
    task_key: str
    outcome: Literal["true", "false"] | None = None


class SparkPythonTask(StrictModel):
    python_file: str
    parameters: list[str] = Field(default_factory=list)
    source: Literal["WORKSPACE", "GIT"] | None = None


class PythonWheelTask(StrictModel):
    package_name: str
    entry_point: str
    parameters: list[str] = Field(default_factory=list)
    named_parameters: dict[str, str] = Field(default_factory=dict)


class ConditionTask(StrictModel):
    op: ConditionOp
    left: str
    right: str


class PipelineTask(StrictModel):
    pipeline_id: str
    full_refresh: bool = False


class Task(StrictModel):
    """One task of a job: exactly one of the ``*_task`` blocks."""

    task_key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")
    description: str | None = None
    depends_on: list[Dependency] = Field(default_factory=list)
    run_if: RunIf = "ALL_SUCCESS"
    max_retries: int = Field(0, ge=-1)
    min_retry_interval_millis: int = Field(0, ge=0)
    retry_on_timeout: bool = False
    timeout_seconds: int = Field(0, ge=0)
    spark_python_task: SparkPythonTask | None = None
    python_wheel_task: PythonWheelTask | None = None
    condition_task: ConditionTask | None = None
    pipeline_task: PipelineTask | None = None
    for_each_task: ForEachTask | None = None
    environment_key: str | None = None
    job_cluster_key: str | None = None
    existing_cluster_id: str | None = None
    libraries: list[dict[str, Any]] = Field(default_factory=list)
    email_notifications: dict[str, Any] | None = None
    notification_settings: dict[str, Any] | None = None
    health: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Task:
        kinds = [k for k in TASK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"expected exactly one of {', '.join(TASK_KINDS)}, got {kinds or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in TASK_KINDS if getattr(self, k) is not None)


class ForEachTask(StrictModel):
    inputs: str
    concurrency: int = Field(1, ge=1, le=100)
    task: Task


TASK_KINDS = (
    "spark_python_task",
    "python_wheel_task",
    "condition_task",
    "pipeline_task",
    "for_each_task",
)


class Schedule(StrictModel):
    quartz_cron_expression: str
    timezone_id: str = "UTC"
    pause_status: PauseStatus = "UNPAUSED"


class Continuous(StrictModel):
    """A continuous job: Databricks starts a new run whenever the last one ends."""

    pause_status: PauseStatus = "UNPAUSED"


class JobParameter(StrictModel):
    name: str
    default: str


class Environment(StrictModel):
    environment_key: str
    spec: dict[str, Any]


class Job(StrictModel):
    name: str
    description: str | None = None
    tasks: list[Task] = Field(min_length=1)
    schedule: Schedule | None = None
    continuous: Continuous | None = None
    trigger: dict[str, Any] | None = None
    parameters: list[JobParameter] = Field(default_factory=list)
    environments: list[Environment] = Field(default_factory=list)
    job_clusters: list[dict[str, Any]] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: int = Field(0, ge=0)
    max_concurrent_runs: int = Field(1, ge=1)
    email_notifications: dict[str, Any] | None = None
    webhook_notifications: dict[str, Any] | None = None
    notification_settings: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    queue: dict[str, Any] | None = None
    permissions: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_trigger(self) -> Job:
        given = [k for k in ("schedule", "continuous", "trigger") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"expected at most one of schedule, continuous, trigger, got {given}")
        return self


class PipelineLibrary(StrictModel):
    file: dict[Literal["path"], str] | None = None
    notebook: dict[Literal["path"], str] | None = None
    glob: dict[Literal["include"], str] | None = None


class Pipeline(StrictModel):
    name: str
    catalog: str | None = None
    schema_: str | None = Field(None, alias="schema")
    target: str | None = None
    serverless: bool = False
    continuous: bool = False
    development: bool | None = None
    photon: bool | None = None
    channel: Literal["CURRENT", "PREVIEW"] = "CURRENT"
    edition: Literal["CORE", "PRO", "ADVANCED"] | None = None
    libraries: list[PipelineLibrary] = Field(min_length=1)
    configuration: dict[str, str] = Field(default_factory=dict)
    root_path: str | None = None
    clusters: list[dict[str, Any]] = Field(default_factory=list)
    notifications: list[dict[str, Any]] = Field(default_factory=list)
    permissions: list[dict[str, Any]] = Field(default_factory=list)

    model_config = ConfigDict(populate_by_name=True)  # added to StrictModel's


class _View(BaseModel):
    """The part of a schema-validated block FinML reads; other keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class TaskNode(_View):
    task_key: str
    depends_on: list[Dependency] = Field(default_factory=list)


class JobGraph(_View):
    """Any job's task graph, whatever its task types (for the dependency checks)."""

    tasks: list[TaskNode] = Field(default_factory=list)


Task.model_rebuild()
