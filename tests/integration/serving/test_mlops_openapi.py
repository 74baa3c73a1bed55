"""The ``/mlops`` routes on a real server on loopback: schemathesis, positive and negative
cases of every route, with an operate token and without one, finds no 5xx and no status
the document does not list."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from serving_helpers import running

from finml.jobs.mlops import mount_mlops
from finml.serving.app import create_app
from finml.serving.roles import RoleAuth, parse_tokens
from finml.serving.settings import ServingSettings

EXAMPLES = 25  # per operation, generation mode and auth state
OPERATE = "fuzz-operate-token-0123456789"


@pytest.fixture
def published(serving_config):
    app = create_app(serving_config, ServingSettings(), token="")
    mount_mlops(app, auth=RoleAuth(parse_tokens(f"fuzz:{OPERATE}", "operate", "O")))
    with running(app) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json"), base


@pytest.mark.parametrize("authorized", [True, False])
def test_no_server_errors_on_the_mlops_routes(published, authorized: bool) -> None:
    schema, base = published
    headers = {"Authorization": f"Bearer {OPERATE}"} if authorized else {}
    statuses: dict[tuple[str, str], set[int]] = {}
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith("/mlops")
    ]
    assert len(operations) == 12
    for operation, mode in itertools.product(operations, GenerationMode):
        has_input = bool(operation.definition.raw.get("parameters")) or operation.body
        if mode is GenerationMode.NEGATIVE and not has_input:
            continue  # nothing to make invalid

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case) -> None:
            response = case.call(base_url=base, headers=headers)
            key = (case.method.upper(), case.operation.path)
            statuses.setdefault(key, set()).add(response.status_code)
            assert response.status_code < 500, (key, case.path_parameters, response.text[:300])
            assert str(response.status_code) in case.operation.definition.raw["responses"], (
                key,
                response.status_code,
                response.text,
            )

        check()
    seen = set().union(*statuses.values())
    if authorized:
        assert 200 in statuses["GET", "/mlops/status"] and 422 in seen and 404 in seen
    else:
        # nothing is answered without a token: 400 and 422 only for input FastAPI refuses
        # before the dependencies run (an unreadable body, an invalid parameter)
        assert 401 in seen and seen <= {400, 401, 422}
