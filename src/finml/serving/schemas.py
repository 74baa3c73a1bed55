"""Request and response models; the record model is built from the champion's signature.

Each feature becomes a required finite ``float`` field (NaN and ±inf rejected), unknown
fields are rejected, and ``symbol`` / ``ts`` / ``trade_id`` are optional entity fields used
for routing and for the inference log. Feature names are carried as aliases, so any column
name (even one that is not a Python identifier) is a valid JSON key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

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


def record_model(features: tuple[str, ...]) -> type[BaseModel]:
    """A pydantic model of one record with ``features`` as required finite floats.

    Raises:
        ModelContractError: a feature is named like an entity field or is duplicated.
    """
    clash = sorted(set(features) & set(ENTITY_FIELDS))
    if clash or len(set(features)) != len(features):
        raise ModelContractError(
            f"model signature: expected unique feature names other than {ENTITY_FIELDS}, "
            f"got {clash or 'duplicates'}"
        )
    # Field i is named f"f{i}" (read back that way by the app); the alias is the JSON key.
    fields: dict[str, Any] = {
        f"f{i}": (float, Field(..., alias=name, allow_inf_nan=False))
        for i, name in enumerate(features)
    }
    return create_model("Record", __base__=_Record, **fields)


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


class ErrorResponse(BaseModel):
    detail: str
    errors: list[str] = Field(default_factory=list)
