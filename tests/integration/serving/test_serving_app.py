"""The REST contract in-process (FastAPI TestClient runs the real app and its lifespan)."""

from __future__ import annotations

import gc
import json
import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_helpers import ENSEMBLE_MODEL, RECORD

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables
from finml.serving.app import create_app
from finml.serving.settings import ServingSettings

MAX_BODY = 4_096


def settings(**ab: object) -> ServingSettings:
    return ServingSettings.from_section(
        {
            "max_batch": 5,
            "max_body_bytes": MAX_BODY,
            "ab": ab or {"mode": "off"},
            "inference_log": {"flush_seconds": 0.1},
        }
    )


@pytest.fixture
def client(serving_config):
    with TestClient(create_app(serving_config, settings(), token="")) as c:
        yield c


def log_rows(config) -> list[dict]:
    return DeltaTables.from_config(config, None).table("inference_log").to_arrow().to_pylist()


def test_predict_returns_champion_score_and_request_id(client) -> None:
    r = client.post("/predict", json={**RECORD, "symbol": "AAPL"}, headers={"X-Request-ID": "r-1"})
    assert r.status_code == 200
    body = r.json()
    assert r.headers["x-request-id"] == "r-1" == body["request_id"]
    assert 0.0 <= body["score"] <= 1.0 and body["prediction"] in (0, 1)
    assert (body["variant"], body["model_version"]) == ("champion", "1")


# (record JSON, the field a 422 must name, a word of its reason)
BAD_RECORDS = [
    ('{"return_z": NaN, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": 0}', "return_z", "finite"),
    (
        '{"return_z": 1, "volume_z": Infinity, "spread_bps": 0.1, "gap_z": 0}',
        "volume_z",
        "finite",
    ),
    (
        '{"return_z": 1, "volume_z": 0.5, "spread_bps": "wide", "gap_z": 0}',
        "spread_bps",
        "number",
    ),
    ('{"return_z": 1, "volume_z": 0.5, "spread_bps": 0.1}', "gap_z", "required"),
    ('{"return_z": 1, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": 0, "x": 1}', "x", "extra"),
    # numeric strings and booleans used to pass as numbers
    (
        '{"return_z": "12.5", "volume_z": 0.5, "spread_bps": 0.1, "gap_z": 0}',
        "return_z",
        "got '12.5'",
    ),
    ('{"return_z": 1, "volume_z": true, "spread_bps": 0.1, "gap_z": 0}', "volume_z", "got true"),
    (
        '{"return_z": 1, "volume_z": 0.5, "spread_bps": false, "gap_z": 0}',
        "spread_bps",
        "got false",
    ),
    ('{"return_z": 1, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": null}', "gap_z", "got null"),
    ('{"return_z": 1, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": [0]}', "gap_z", "number"),
    # beyond float32 (serving.feature_dtype), however it is written
    ('{"return_z": 1e39, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": 0}', "return_z", "at most"),
    ('{"return_z": 1, "volume_z": -1e39, "spread_bps": 0.1, "gap_z": 0}', "volume_z", "at most"),
    (
        f'{{"return_z": 1, "volume_z": 0.5, "spread_bps": {10**40}, "gap_z": 0}}',
        "spread_bps",
        "at most 3.4028234663852886e+38",
    ),
]


def test_invalid_request_id_is_replaced(client) -> None:
    r = client.post("/predict", json=RECORD, headers={"X-Request-ID": "bad id\t<script>"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] != "bad id\t<script>" and len(r.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    BAD_RECORDS,
)
def test_bad_input_is_422_naming_the_field(client, body: str, field: str, reason: str) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert any(f"field {field!r}" in e and reason in e for e in errors), errors
    assert "x-request-id" in r.headers


@pytest.mark.parametrize(
    ("second", "field", "reason"),
    BAD_RECORDS,
)
def test_bad_batch_record_is_422_naming_index_and_field(
    client, second: str, field: str, reason: str
) -> None:
    body = f'{{"records": [{json.dumps(RECORD)}, {second}, {json.dumps(RECORD)}]}}'
    r = client.post("/predict/batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert len(errors) == 1 and errors[0].startswith(f"field 'records.1.{field}': "), errors
    assert reason in errors[0] and "x-request-id" in r.headers


def test_empty_batch_is_422(client) -> None:
    r = client.post("/predict/batch", json={"records": []})
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error.startswith("field 'records': list should have at least 1 item"), error


def test_batch_keeps_order_and_limit_is_413(client) -> None:
    records = [{**RECORD, "return_z": float(i)} for i in range(5)]
    r = client.post("/predict/batch", json={"records": records})
    assert r.status_code == 200
    scores = [p["score"] for p in r.json()["predictions"]]
    assert scores == sorted(scores) and len(set(scores)) == 5  # score rises with return_z
    r = client.post("/predict/batch", json={"records": records + records[:1]})
    assert r.status_code == 413 and "at most 5" in r.json()["detail"]


def test_bearer_token(serving_config) -> None:
    with TestClient(create_app(serving_config, settings(), token="s3cret")) as c:
        assert c.post("/predict", json=RECORD).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert c.post("/predict", json=RECORD, headers=wrong).status_code == 403
        right = {"Authorization": "Bearer s3cret"}
        assert c.post("/predict", json=RECORD, headers=right).status_code == 200
        assert c.get("/health").status_code == 200  # probes stay open


def test_models_metrics_ready(client) -> None:
    models = client.get("/models").json()
    by_version = {v["version"]: v for v in models["versions"]}
    assert by_version["1"]["aliases"] == ["champion"]
    assert by_version["2"]["aliases"] == ["challenger"]
    assert 0 < by_version["1"]["metrics"]["pr_auc"] <= 1
    assert models["loaded"] == {"champion": "1", "challenger": "2"}
    client.post("/predict", json=RECORD)
    text = client.get("/metrics").text
    assert 'finml_http_requests_total{route="/predict",status="200"} 1.0' in text
    assert 'finml_model_version{alias="champion"} 1.0' in text
    assert client.get("/ready").json()["status"] == "ready"


def test_start_up_heap_is_frozen_out_of_the_collector(serving_config) -> None:
    """A full collection would otherwise walk every model and library object (~230 ms on the
    demo champion's server): a pause for whichever request is running."""
    with TestClient(create_app(serving_config, settings(), token="")) as c:
        assert c.get("/health").status_code == 200
        assert gc.get_freeze_count() > 50_000
    assert gc.get_freeze_count() == 0  # shutdown unfreezes


def test_every_prediction_is_logged_on_shutdown(serving_config) -> None:
    with TestClient(create_app(serving_config, settings(), token="")) as c:
        ids = [
            c.post("/predict", json={**RECORD, "symbol": "MSFT"}).json()["request_id"]
            for _ in range(7)
        ]
        c.post("/predict/batch", json={"records": [RECORD] * 3}, headers={"X-Request-ID": "b-1"})
    rows = log_rows(serving_config)
    assert len(rows) == 10
    assert {r["request_id"] for r in rows} == {*ids, "b-1"}
    row = next(r for r in rows if r["request_id"] == ids[0])
    assert row["symbol"] == "MSFT" and row["variant"] == "champion" and row["model_version"] == "1"
    assert len(row["inputs_hash"]) == 64 and '"return_z":1.0' in row["inputs"]
    assert math.isfinite(row["latency_ms"]) and row["logged_at"].tzinfo is not None


def test_split_is_sticky_by_symbol_and_recorded(serving_config) -> None:
    app = create_app(serving_config, settings(mode="split", challenger_percent=50), token="")
    symbols = [f"S{i}" for i in range(40)]
    with TestClient(app) as c:
        first = {s: c.post("/predict", json={**RECORD, "symbol": s}).json() for s in symbols}
        again = {s: c.post("/predict", json={**RECORD, "symbol": s}).json() for s in symbols}
    assert {s: b["variant"] for s, b in first.items()} == {
        s: b["variant"] for s, b in again.items()
    }
    variants = {b["variant"] for b in first.values()}
    assert variants == {"champion", "challenger"}
    for body in first.values():
        assert body["model_version"] == ("2" if body["variant"] == "challenger" else "1")
    logged = {(r["symbol"], r["variant"]) for r in log_rows(serving_config)}
    assert logged == {(s, b["variant"]) for s, b in first.items()}


def test_shadow_scores_off_path_and_champion_answers(serving_config) -> None:
    app = create_app(serving_config, settings(mode="shadow"), token="")
    with TestClient(app) as c:
        answers = [c.post("/predict", json={**RECORD, "symbol": "NVDA"}).json() for _ in range(5)]
    assert {a["variant"] for a in answers} == {"champion"}
    rows = log_rows(serving_config)
    by_variant = {v: [r for r in rows if r["variant"] == v] for v in ("champion", "shadow")}
    assert len(by_variant["champion"]) == len(by_variant["shadow"]) == 5
    assert {r["model_version"] for r in by_variant["shadow"]} == {"2"}
    assert {r["request_id"] for r in by_variant["shadow"]} == {a["request_id"] for a in answers}
    assert by_variant["shadow"][0]["score"] != by_variant["champion"][0]["score"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_wrong_content_type_is_415(client, path: str, content_type: str | None) -> None:
    body = json.dumps(RECORD if path == "/predict" else {"records": [RECORD]})
    headers = {"content-type": content_type} if content_type else {}
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 415
    assert (
        r.json()["detail"]
        == f"content-type: expected application/json, got {content_type or 'none'}"
    )
    vendor = client.post(path, content=body, headers={"content-type": "application/vnd.x+json"})
    assert vendor.status_code == 200


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
def test_body_over_the_limit_is_413_before_parsing(client, path: str) -> None:
    padded = {**RECORD, "symbol": "S" * 60}
    body = json.dumps(padded if path == "/predict" else {"records": [padded] * 5})
    body += " " * (MAX_BODY + 1 - len(body))  # valid JSON, one byte too many
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert (
        r.json()["detail"]
        == f"request body: expected at most {MAX_BODY} bytes, got {MAX_BODY + 1} declared"
    )
    assert r.headers["connection"] == "close"
    r = client.post(path, content=body.rstrip(), headers={"content-type": "application/json"})
    assert r.status_code == 200  # the same request within the limit


@pytest.fixture
def ensemble_client(ensemble_home, tmp_path):
    config = ProjectConfig(home=ensemble_home, warehouse=tmp_path / "warehouse")
    section = {"model": ENSEMBLE_MODEL, "max_batch": 50, "inference_log": {"flush_seconds": 0.1}}
    app = create_app(config, ServingSettings.from_section(section), token="")
    rows = pd.read_parquet(ensemble_home / "ensemble_rows.parquet").head(40)
    with TestClient(app) as c:
        yield c, app.state.serving.slots.current.champion, rows


def test_real_champion_answers_422_not_500_beyond_float32(ensemble_client) -> None:
    """The trees read features as float32: 1e39 made the model raise, a 500, and one such
    record failed a whole batch."""
    client, _, rows = ensemble_client
    records = [{k: float(v) for k, v in row.items()} for _, row in rows.head(3).iterrows()]
    bad = {**records[1], "f3": 1e39}
    r = client.post("/predict", json=bad)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        "field 'f3': expected a number of magnitude at most 3.4028234663852886e+38, got 1e+39"
    ]
    r = client.post("/predict/batch", json={"records": [records[0], bad, records[2]]})
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error.startswith("field 'records.1.f3': expected a number of magnitude at most")


def test_real_champion_batch_scores_as_mlflow_predicts(ensemble_client) -> None:
    client, champion, rows = ensemble_client
    records = [{k: float(v) for k, v in row.items()} for _, row in rows.iterrows()]
    r = client.post("/predict/batch", json={"records": records})
    assert r.status_code == 200, r.text
    expected = champion.pyfunc.predict(rows)
    got = [p["score"] for p in r.json()["predictions"]]
    np.testing.assert_allclose(got, expected["score"].to_numpy(), rtol=0, atol=1e-9)
    one = client.post("/predict", json=records[7]).json()
    assert abs(one["score"] - expected["score"].iloc[7]) <= 1e-9
