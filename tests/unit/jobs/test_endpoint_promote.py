"""``finml endpoint promote`` over a real sqlite MLflow store (small real models) and real
Delta tables (delta-rs): ``inference_log`` rows of both variants and ``test_set`` labels
written here, each step audited in ``endpoint_traffic_audit``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from lifecycle_helpers import register_model

from finml.config import ProjectConfig
from finml.errors import DataError
from finml.jobs.endpoint import check_steps, promote_endpoint
from finml.models.transitions import TRANSITIONS
from finml.registry import ANOMALY_MODEL, CHALLENGER, CHAMPION, by_alias, model_name, set_alias
from finml.runtime.delta import DeltaTables
from finml.serving.endpoint import AUDIT_TABLE, load_state
from finml.serving.inference_log import INFERENCE_LOG_SCHEMA
from finml.serving.settings import ServingSettings

N = 300  # labelled records per variant


@pytest.fixture
def world(tmp_path: Path):
    """v1 @champion, v2 @challenger, and ``test_set`` labels of N trades (half positive)."""
    config = ProjectConfig(home=tmp_path / "home")
    tables = DeltaTables.from_config(config, None)
    name = model_name(config, ANOMALY_MODEL)
    v1, v2 = register_model(config, "f1"), register_model(config, "f0")
    set_alias(config, name, CHAMPION, v1)
    set_alias(config, name, CHALLENGER, v2)
    labels = (np.arange(N) % 2).astype(np.int64)
    test_set = {"trade_id": [f"t{i}" for i in range(N)], "label": labels}
    tables.table("test_set").append(pa.table(test_set))
    return config, tables, name, labels


def log_rows(tables, variant: str, version: int, predictions: np.ndarray) -> None:
    """One inference-log row per trade, as the server writes them."""
    at = datetime(2026, 3, 2, 15, tzinfo=UTC)
    n = len(predictions)
    rows = {
        "request_id": [f"r-{variant}-{i}" for i in range(n)],
        "logged_at": [at + timedelta(seconds=i) for i in range(n)],
        "model_name": ["m"] * n,
        "model_version": [str(version)] * n,
        "variant": [variant] * n,
        "symbol": ["AAA"] * n,
        "ts": [at] * n,
        "trade_id": [f"t{i}" for i in range(n)],
        "inputs": ["{}"] * n,
        "inputs_hash": ["h"] * n,
        "score": [0.5] * n,
        "prediction": [int(p) for p in predictions],
        "latency_ms": [1.0] * n,
    }
    tables.table("inference_log").append(pa.Table.from_pydict(rows, schema=INFERENCE_LOG_SCHEMA))


def audit(tables) -> list[dict]:
    return sorted(tables.table(AUDIT_TABLE).to_arrow().to_pylist(), key=lambda r: r["step"])


def test_an_equal_challenger_ends_at_100_percent_with_the_aliases_moved(world) -> None:
    config, tables, name, labels = world
    log_rows(tables, "champion", 1, labels)
    seen = []

    def traffic(percent: int) -> None:  # the challenger's requests arrive during its step
        seen.append(percent)
        if percent == 10:
            log_rows(tables, "challenger", 2, labels)

    result = promote_endpoint(
        config, tables, ServingSettings(), min_requests=100, between_steps=traffic
    )
    assert result.promoted, result.reason
    assert seen == [10, 25, 50, 100]
    rows = audit(tables)
    assert [(r["challenger_percent"], r["action"]) for r in rows] == [
        (10, "shift"),
        (25, "shift"),
        (50, "shift"),
        (100, "promote"),
    ]
    assert rows[0]["challenger_requests"] == N and rows[0]["challenger_n"] == N
    assert by_alias(config, name, CHAMPION).version == 2  # type: ignore[union-attr]
    state = load_state(config.home)
    assert state is not None
    assert (state.champion_version, state.challenger_percent) == ("2", 0)
    moved = tables.table(TRANSITIONS).to_arrow().to_pylist()
    assert [(r["version"], r["to_state"], r["actor"]) for r in moved] == [
        ("2", "champion", "endpoint")
    ]


def test_a_worse_challenger_stops_at_the_first_step_and_rolls_back_to_zero(world) -> None:
    config, tables, name, labels = world
    log_rows(tables, "champion", 1, labels)
    log_rows(tables, "challenger", 2, np.zeros_like(labels))  # flags nothing: recall 0
    result = promote_endpoint(config, tables, ServingSettings(), min_requests=10)
    assert not result.promoted
    assert "significantly worse" in result.reason and result.reason.startswith("at 10 %")
    assert [(r["challenger_percent"], r["action"]) for r in audit(tables)] == [(0, "rollback")]
    assert load_state(config.home).challenger_percent == 0  # type: ignore[union-attr]
    assert by_alias(config, name, CHAMPION).version == 1  # type: ignore[union-attr]


def test_too_few_challenger_requests_hold_the_share(world) -> None:
    config, tables, _, labels = world
    log_rows(tables, "champion", 1, labels)
    log_rows(tables, "challenger", 2, labels[:40])
    result = promote_endpoint(config, tables, ServingSettings(), steps=(25, 100), min_requests=50)
    assert not result.promoted and "got 40" in result.reason
    assert [(r["challenger_percent"], r["action"]) for r in audit(tables)] == [(25, "hold")]
    assert load_state(config.home).challenger_percent == 25  # type: ignore[union-attr]


def test_no_challenger_and_bad_steps_are_one_line_errors(world) -> None:
    config, tables, name, _ = world
    with pytest.raises(DataError, match="ending at 100"):
        check_steps([10, 50])
    with pytest.raises(DataError, match="increasing"):
        check_steps([50, 25, 100])
    set_alias(config, name, CHALLENGER, 1)
    with pytest.raises(DataError, match="different @challenger"):
        promote_endpoint(config, tables, ServingSettings())
