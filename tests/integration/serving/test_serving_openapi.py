"""The published OpenAPI document lists every status each route answers, with a schema; a
property-based run of schemathesis against it finds no 5xx and no undocumented status."""

from __future__ import annotations

import itertools

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from serving_helpers import running

from finml.serving.app import create_app
from finml.serving.limits import FLOAT32_MAX
from finml.serving.settings import ServingSettings

EXAMPLES = 25  # per operation, generation mode and auth state: bounded, a few seconds in all
SCORING = {"200", "400", "401", "403", "413", "415", "422", "500"}
DOCUMENTED = {
    ("post", "/predict"): SCORING,
    ("post", "/predict/batch"): SCORING,
    ("post", "/invocations"): SCORING - {"422"},  # MLflow's protocol: a bad payload is 400
    ("get", "/models"): {"200", "401", "403"},
    ("get", "/ready"): {"200", "503"},
    ("get", "/health"): {"200"},
    ("get", "/metrics"): {"200"},
}


@pytest.fixture
def published(serving_config):
    """The schema served by a real server on loopback (token auth on, like production)."""
    settings_ = ServingSettings.from_section({"max_batch": 20})
    app = create_app(serving_config, settings_, token="sch3ma")
    with running(app) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json"), base


def test_every_status_of_every_route_is_documented_with_a_schema(published) -> None:
    _, base = published
    doc = httpx.get(f"{base}/openapi.json").json()
    found = {
        (method, path): set(op["responses"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    assert found == DOCUMENTED
    for (method, path), codes in DOCUMENTED.items():
        for code in codes:
            response = doc["paths"][path][method]["responses"][code]
            [content] = response["content"].values()
            assert content["schema"], (method, path, code)
            if path == "/invocations" and code == "400":  # MLflow's error body
                assert content["schema"] == {"$ref": "#/components/schemas/BadRequestResponse"}
            elif code != "200":
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
                assert response["description"] != "Successful Response"  # says why
    feature = doc["components"]["schemas"]["Record"]["properties"]["return_z"]
    assert (feature["minimum"], feature["maximum"]) == (-FLOAT32_MAX, FLOAT32_MAX)
    batch = doc["paths"]["/predict/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["records"]["maxItems"] == 20


@pytest.mark.parametrize("authorized", [True, False])
def test_no_server_errors(published, authorized: bool) -> None:
    schema, base = published
    headers = {"Authorization": "Bearer sch3ma"} if authorized else {}
    statuses: dict[tuple[str, str], set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        if mode is GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # a GET without parameters has no invalid form

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case) -> None:
            response = case.call(base_url=base, headers=headers)
            key = (case.method.upper(), case.path)
            statuses.setdefault(key, set()).add(response.status_code)
            assert response.status_code < 500, (key, repr(case.body)[:300], response.text[:300])
            documented = DOCUMENTED[(case.method.lower(), case.path)]
            assert str(response.status_code) in documented, (key, response.status_code)

        check()
    predict = statuses[("POST", "/predict")] | statuses[("POST", "/predict/batch")]
    if authorized:
        assert 200 in predict and 422 in predict  # valid and invalid records both generated
    else:
        assert 200 not in predict and 401 in predict
