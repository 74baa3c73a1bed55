"""Property-based run of schemathesis against the published OpenAPI: no 5xx anywhere."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from serving_helpers import running

from finml.serving.app import create_app
from finml.serving.settings import ServingSettings

EXAMPLES = 25  # per operation, generation mode and auth state: bounded, a few seconds in all


@pytest.fixture
def published(serving_config):
    """The schema served by a real server on loopback (token auth on, like production)."""
    settings_ = ServingSettings.from_section({"max_batch": 20})
    app = create_app(serving_config, settings_, token="sch3ma")
    with running(app) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json"), base


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

        check()
    predict = statuses[("POST", "/predict")] | statuses[("POST", "/predict/batch")]
    if authorized:
        assert 200 in predict and 422 in predict  # valid and invalid records both generated
    else:
        assert 200 not in predict and 401 in predict
