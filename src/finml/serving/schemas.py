"""Request and response models; the record model is built from the champion's signature.

Each feature becomes a strict, finite ``float`` field: a JSON number (integers allowed)
within the feature's bound (:mod:`finml.serving.limits`); NaN, ±inf, numeric strings,
booleans, objects and arrays are rejected, and null or absence too unless the signature
marks the feature optional (the model imputes it, as its own input example shows). Unknown
fields are rejected, and ``symbol`` / ``ts`` / ``trade_id`` are optional entity fields used
for routing and for the inference log. Feature names are carried as aliases, so any column
name (even one that is not a Python identifier) is a valid JSON key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from finml.serving.limits import FLOAT64_MAX, is_unbounded
from finml.serving.models import ModelContractError

ENTITY_FIELDS = ("symbol", "ts", "trade_id")
KEY_LENGTHS = {"symbol": 64, "trade_id": 128}  # most characters of each key field (least: 1)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=False)

    symbol: str | None = Field(
        None, min_length=1, max_length=KEY_LENGTHS["symbol"], description="Entity key"
    )
    ts: datetime | None = Field(None, description="Event time (ISO 8601; naive = UTC)")
    trade_id: str | None = Field(None, min_length=1, max_length=KEY_LENGTHS["trade_id"])


def record_model(
    features: tuple[str, ...],
    bounds: tuple[float, ...] | None = None,
    optional: frozenset[str] = frozenset(),
) -> type[BaseModel]:
    """A pydantic model of one record with ``features`` as strict finite floats of
    magnitude at most ``bounds`` (one per feature; default: any finite float). Those in
    ``optional`` (not required by the model's signature) may also be null or absent.

    Raises:
        ModelContractError: a feature is named like an entity field or is duplicated.
        ValueError: ``bounds`` does not have one entry per feature.
    """
    clash = sorted(set(features) & set(ENTITY_FIELDS))
    if clash or len(set(features)) != len(features):
        raise ModelContractError(
            f"model signature: expected unique feature names other than {ENTITY_FIELDS}, "
            f"got {clash or 'duplicates'}"
        )
    bounds = bounds if bounds is not None else (FLOAT64_MAX,) * len(features)
    if len(bounds) != len(features):
        raise ValueError(f"bounds: expected {len(features)}, got {len(bounds)}")
    # Field i is named f"f{i}" (read back that way by the app); the alias is the JSON key.
    fields: dict[str, Any] = {
        f"f{i}": (float | None, _feature_field(name, bound, None))
        if name in optional
        else (float, _feature_field(name, bound, ...))
        for i, (name, bound) in enumerate(zip(features, bounds, strict=True))
    }
    return create_model("Record", __base__=_Record, **fields)


def _feature_field(name: str, bound: float, default: Any) -> Any:
    """Strict: a JSON number only (pydantic's lax mode would take "1.5" and true);
    ``default`` is ``...`` for a required feature, None for an optional one."""
    if is_unbounded(bound):
        return Field(default, alias=name, strict=True, allow_inf_nan=False)
    return Field(default, alias=name, strict=True, allow_inf_nan=False, ge=-bound, le=bound)


def batch_model(record: type[BaseModel], max_batch: int) -> type[BaseModel]:
    """``{"records": [record, ...]}``; the size limit is enforced by the handler (413)."""
    return create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(
            list[record],  # type: ignore[valid-type]
            Field(..., min_length=1, description=f"1 to {max_batch} records"),
        ),
    )


class Prediction(BaseModel):
    score: float = Field(description="Anomaly probability in [0, 1]")
    prediction: int = Field(description="1 = anomaly at the model's threshold")
    model_name: str
    model_version: str
    variant: str = Field(description="champion or challenger")


class PredictResponse(Prediction):
    request_id: str


class BatchResponse(BaseModel):
    request_id: str
    predictions: list[Prediction]


class InvocationPrediction(BaseModel):
    score: float = Field(description="Anomaly probability in [0, 1]")
    prediction: int = Field(description="1 at or above the model's threshold, else 0")


class InvocationsResponse(BaseModel):
    """MLflow's answer to ``/invocations``: the pyfunc's output frame as records."""

    predictions: list[InvocationPrediction]


class BadRequestResponse(BaseModel):
    """MLflow's error body (``mlflow models serve``, Databricks Model Serving)."""

    error_code: str = Field(description="BAD_REQUEST")
    message: str = Field(description="What is wrong with the payload: expected X, got Y")


INVOCATIONS_BODY: dict[str, Any] = {
    "title": "InvocationsRequest",
    "description": "Exactly one of dataframe_split, dataframe_records, inputs, instances",
    "type": "object",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
                "index": {"type": "array"},
            },
            "required": ["columns", "data"],
        },
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "inputs": {"type": ["array", "object"]},
        "instances": {"type": ["array", "object"]},
        "params": {"type": "object"},
    },
    "minProperties": 1,
    "additionalProperties": False,
}


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong: expected X, got Y")
    errors: list[str] = Field(
        default_factory=list, description="422: one line per problem, naming record and field"
    )


class RegisteredVersion(BaseModel):
    version: str
    aliases: list[str]
    run_id: str | None
    metrics: dict[str, float] = Field(description="Key metrics of the run that logged it")
    tags: dict[str, str]


class ModelsResponse(BaseModel):
    model_name: str
    features: list[str] = Field(description="The published request features")
    loaded: dict[str, str] = Field(description="alias -> version loaded in this server")
    ab_mode: str
    challenger_percent: float
    versions: list[RegisteredVersion] = Field(description="Newest first")


class HealthResponse(BaseModel):
    status: str = Field(description="ok")


class ReadyResponse(BaseModel):
    status: str = Field(description="ready")
    champion: int = Field(description="The loaded champion version")
