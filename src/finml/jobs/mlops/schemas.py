"""Request and response bodies of the ``/mlops`` routes (published in ``/openapi.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionRequest(_Body):
    """Where to move the version; ``force`` (champion only) skips the gate and A/B."""

    to: Literal["challenger", "champion", "archived"]
    reason: str = Field("", max_length=4000)
    force: bool = False


class AckRequest(_Body):
    """Who takes the alert (default: the token's name) and a note."""

    by: str | None = Field(None, min_length=1, max_length=200)
    note: str | None = Field(None, max_length=4000)


class Experiment(BaseModel):
    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str | None
    creation_time: int | None
    tags: dict[str, str]


class ExperimentsResponse(BaseModel):
    experiments: list[Experiment]


class RunOut(BaseModel):
    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str | None
    params: dict[str, str]
    metrics: dict[str, float | None]  # None: not finite (NaN, inf)
    tags: dict[str, str]


class RunsResponse(BaseModel):
    runs: list[RunOut]


class MetricPoint(BaseModel):
    step: int
    timestamp: int
    value: float | None


class MetricHistoryResponse(BaseModel):
    run_id: str
    key: str
    history: list[MetricPoint]


class Artifact(BaseModel):
    path: str
    is_dir: bool
    file_size: int | None


class ArtifactsResponse(BaseModel):
    run_id: str
    path: str
    artifacts: list[Artifact]


class RunHeader(BaseModel):
    run_id: str
    name: str
    experiment_id: str
    status: str
    start_time: int | None


class ComparisonRow(BaseModel):
    kind: Literal["param", "metric", "tag"]
    key: str
    values: dict[str, Any]  # run id -> value (None: the run lacks it)
    differs: bool
    delta: list[float | None] | None = None  # metrics: each run minus the first


class ComparisonResponse(BaseModel):
    runs: list[RunHeader]
    rows: list[ComparisonRow]


class ModelVersion(BaseModel):
    name: str
    version: int
    run_id: str | None
    aliases: list[str]
    champion: bool
    archived: bool
    rolled_back: bool
    tags: dict[str, str]  # the finml.* tags: candidate, metrics, gate decision, lineage


class RegisteredModel(BaseModel):
    name: str
    aliases: dict[str, int]
    versions: list[ModelVersion]


class ModelsResponse(BaseModel):
    models: list[RegisteredModel]


class TransitionResponse(BaseModel):
    """One move, as audited in ``model_transitions``; for a promotion also the gate's
    verdict (``reasons``) and whether the champion moved."""

    event_id: str
    model_name: str
    version: int
    to: str
    decision: str  # DONE | UNCHANGED | the gate's decision (PROMOTE, REJECT, ...)
    moved: bool
    reasons: list[str]
    gate_event_id: str | None
    actor: str


class RejectedResponse(BaseModel):
    """409: the gate rejected the promotion; nothing moved (the attempt is audited)."""

    detail: str
    errors: list[str] = []
    decision: TransitionResponse


class AckResponse(BaseModel):
    alert_id: str
    acknowledged_by: str
    acknowledged_at: datetime
    note: str | None
    new: bool  # False: it already was acknowledged (that acknowledgement is returned)


class ServingInfo(BaseModel):
    model_name: str
    champion_version: int
    challenger_version: int | None
    ab_mode: Literal["off", "split", "shadow"]
    challenger_percent: float  # the canary share of symbols in split mode
    started_at: datetime
    uptime_seconds: float
    rows_logged: int


class StatusResponse(BaseModel):
    model_name: str
    champion: ModelVersion | None
    challenger: ModelVersion | None
    previous_champion: ModelVersion | None
    serving: ServingInfo
    tables: dict[str, int | None]  # Delta version of each key table (None: not created yet)
