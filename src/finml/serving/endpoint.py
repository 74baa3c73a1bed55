"""The local stand-in for the model serving endpoint: its traffic split in a JSON file.

On Databricks the endpoint (``resources/model_serving.yml``) holds the champion and the
challenger versions and each one's traffic percentage; ``finml endpoint promote`` would move
them through the serving-endpoints API. Locally the "endpoint" is this file under the FinML
home, ``<home>/serving/endpoint.json``: ``finml endpoint promote`` writes each step to it and
``finml serve --traffic-from-endpoint`` splits by it (:func:`ab_settings`). Each step is
also a row of ``endpoint_traffic_audit`` (:data:`AUDIT_SCHEMA`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pydantic import Field, ValidationError

from finml.errors import ConfigError
from finml.serving.settings import ABSettings
from finml.settings_base import StrictModel

AUDIT_TABLE = "endpoint_traffic_audit"
STATE_FILE = Path("serving") / "endpoint.json"

AUDIT_SCHEMA = pa.schema(
    [
        ("promotion_id", pa.string()),
        ("step", pa.int32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("endpoint", pa.string()),
        ("champion_version", pa.string()),
        ("challenger_version", pa.string()),
        ("challenger_percent", pa.int32()),
        ("action", pa.string()),  # shift | hold | rollback | promote
        ("champion_n", pa.int64()),
        ("challenger_n", pa.int64()),
        ("challenger_requests", pa.int64()),
        ("ab_decision", pa.string()),
        ("reason", pa.string()),
    ]
)


class EndpointState(StrictModel):
    """The split the local endpoint serves: ``challenger_percent`` of the traffic to the
    challenger version, the rest to the champion version."""

    name: str = "finml-anomaly-local"
    champion_version: str = ""
    challenger_version: str = ""
    challenger_percent: int = Field(0, ge=0, le=100)
    updated_at: datetime | None = None


def state_path(home: Path) -> Path:
    """Where the local endpoint's state lives under the FinML ``home``."""
    return home / STATE_FILE


def load_state(home: Path) -> EndpointState | None:
    """The local endpoint's state, None when nothing has written it yet.

    Raises:
        ConfigError: the file is not a valid endpoint state (naming the file).
    """
    path = state_path(home)
    if not path.is_file():
        return None
    try:
        return EndpointState.model_validate(json.loads(path.read_text()))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path}: expected an endpoint state, got: {exc}") from None


def save_state(home: Path, state: EndpointState) -> EndpointState:
    """Write ``state`` (stamped now) atomically, so a server reading it never sees half."""
    stamped = state.model_copy(update={"updated_at": datetime.now(UTC)})
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(stamped.model_dump_json(indent=2))
    os.replace(scratch, path)
    return stamped


def ab_settings(base: ABSettings, challenger_percent: float) -> ABSettings:
    """``base`` splitting ``challenger_percent`` of the entities to the challenger (the
    endpoint's canary share); 0 % keeps the split mode, so every record goes to the
    champion."""
    return ABSettings.model_validate(
        {**base.model_dump(), "mode": "split", "challenger_percent": challenger_percent}
    )
