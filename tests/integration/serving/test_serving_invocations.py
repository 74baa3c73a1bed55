"""MLflow's scoring protocol on ``finml serve`` (``POST /invocations``), and the optional
features of a signature: a real ensemble champion whose logged input example has nulls, so
its signature marks a feature as not required. The reference answers are MLflow's own
(``validate_serving_input`` runs the model as ``mlflow models serve`` does)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_helpers import ENSEMBLE_MODEL

from finml import registry
from finml.config import ProjectConfig
from finml.serving.app import create_app
from finml.serving.settings import ServingSettings

OPTIONAL = "f3"  # null in two rows of the logged input example


@pytest.fixture(scope="module")
def optional_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import mlflow

    from finml.models.pyfunc import log_pyfunc
    from finml.models.synthetic import trained_ensemble

    home = tmp_path_factory.mktemp("optional_home")
    config = ProjectConfig(home=home)
    registry.configure(config)
    pyfunc, test = trained_ensemble(2000, seed=11)
    example = test[list(pyfunc.features)].head(5).reset_index(drop=True)
    example.loc[[1, 3], OPTIONAL] = np.nan
    with mlflow.start_run(run_name="optional"):
        info = log_pyfunc(pyfunc, example)
    name = registry.model_name(config, ENSEMBLE_MODEL)
    registry.register(config, info.model_uri, name, aliases=("champion",))
    rows = test[list(pyfunc.features)].iloc[5:25].reset_index(drop=True)
    return {"config": config, "uri": f"models:/{name}@champion", "rows": rows}


@pytest.fixture
def client(optional_home: dict, tmp_path):
    config = ProjectConfig(home=optional_home["config"].home, warehouse=tmp_path / "warehouse")
    section = {"model": ENSEMBLE_MODEL, "max_batch": 50, "inference_log": {"flush_seconds": 0.1}}
    with TestClient(create_app(config, ServingSettings.from_section(section), token="")) as c:
        yield c


def mlflow_scores(uri: str, payload: dict) -> list[float]:
    from mlflow.models import validate_serving_input

    return list(validate_serving_input(uri, json.dumps(payload))["score"])


def scores(response) -> list[float]:
    assert response.status_code == 200, response.text
    return [p["score"] for p in response.json()["predictions"]]


def test_the_signature_marks_the_null_column_optional(client) -> None:
    champion = client.app.state.serving.slots.current.champion
    assert champion.optional == frozenset({OPTIONAL})


def test_the_models_own_serving_example_scores_as_mlflow_serves_it(optional_home, client) -> None:
    from mlflow.models import validate_serving_input
    from mlflow.models.utils import load_serving_example

    raw = load_serving_example(optional_home["uri"])  # the file, as `curl -d @file` sends it
    assert "NaN" in raw and list(json.loads(raw)) == ["dataframe_split"]
    sent = client.post("/invocations", content=raw, headers={"content-type": "application/json"})
    got = scores(sent)
    expected = validate_serving_input(optional_home["uri"], raw)["score"]
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert len(got) == 5


def test_every_rest_example_of_the_input_example_is_accepted(optional_home, client) -> None:
    """The five rows of the logged input example through ``/predict`` one by one (nulls as
    JSON null, or the key left out) and through ``/predict/batch``: what the model accepts
    is accepted, with MLflow's scores."""
    from mlflow.models.utils import load_serving_example

    split = json.loads(load_serving_example(optional_home["uri"]))["dataframe_split"]
    records = [
        {c: None if v != v else v for c, v in zip(split["columns"], row, strict=True)}
        for row in split["data"]
    ]  # the example's NaN as JSON null
    assert sum(r[OPTIONAL] is None for r in records) == 2
    expected = mlflow_scores(optional_home["uri"], {"dataframe_records": records})
    for record, score in zip(records, expected, strict=True):
        one = client.post("/predict", json=record)
        assert one.status_code == 200, one.text
        assert abs(one.json()["score"] - score) <= 1e-9
    absent = [{k: v for k, v in r.items() if v is not None} for r in records]
    np.testing.assert_allclose(
        scores(client.post("/predict/batch", json={"records": absent})), expected, atol=1e-9
    )


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "inputs", "columns"])
def test_each_payload_format_gives_mlflows_scores(optional_home, client, form: str) -> None:
    rows: pd.DataFrame = optional_home["rows"]
    payload = {
        "dataframe_split": {"dataframe_split": json.loads(rows.to_json(orient="split"))},
        "dataframe_records": {"dataframe_records": rows.to_dict(orient="records")},
        "inputs": {"inputs": rows.to_dict(orient="records")},
        "columns": {"inputs": rows.to_dict(orient="list")},
    }[form]
    got = scores(client.post("/invocations", json=payload))
    split = json.loads(rows.to_json(orient="split"))
    expected = mlflow_scores(optional_home["uri"], {"dataframe_split": split})
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert len(got) == len(rows)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"records": []}, "expected exactly one of dataframe_split"),
        ({"dataframe_split": {"columns": ["f0"], "data": [[1, 2]]}}, "expected 1 values"),
        ({"dataframe_records": [{"f0": "x"}]}, "field 'records.0.f0'"),
        ({"dataframe_records": [{"f0": 1.0}]}, "field 'records.0.f1': required"),
        ({"inputs": {"f0": [1.0], "f1": [1.0, 2.0]}}, "expected columns of one length"),
        ({"inputs": [{}], "params": {"k": 1}}, "params: expected none"),
    ],
)
def test_a_payload_the_protocol_refuses_is_400_bad_request(client, payload, message) -> None:
    r = client.post("/invocations", json=payload)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "BAD_REQUEST" and message in body["message"], body


def test_a_required_feature_may_not_be_null(optional_home, client) -> None:
    record = {k: float(v) for k, v in optional_home["rows"].iloc[0].items()}
    r = client.post("/predict", json={**record, "f0": None})
    assert r.status_code == 422 and "field 'f0'" in r.json()["errors"][0], r.text
    r = client.post("/predict", json={**record, OPTIONAL: None})
    assert r.status_code == 200, r.text
