"""The model serving endpoint in the repository's bundle: created and updated from the
bundle variables (champion / challenger versions, canary share), refused without a champion,
and a local ``finml serve`` splitting as its routes do."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundle_app import bundle_app as app
from typer.testing import CliRunner

from finml.bundle.endpoint import endpoint_traffic, endpoints
from finml.bundle.loader import load_bundle
from finml.bundle.resource_schema import resources_problems
from finml.bundle.validate import validate_bundle
from finml.bundle.variables import build_context, resolve
from finml.cli.common import State
from finml.errors import JobError

REPO = Path(__file__).resolve().parents[3]
CANARY = {
    "champion_version": "3",
    "challenger_version": "4",
    "champion_traffic_percent": "90",
    "challenger_traffic_percent": "10",
}


def test_only_the_serving_target_deploys_the_endpoint() -> None:
    bundle = load_bundle(REPO)
    assert sorted(endpoints(bundle, "serving")) == ["anomaly_endpoint"]
    for target in ("local", "cluster", "dev", "acc", "prd"):
        assert endpoints(bundle, target) == {}, target


def test_create_resolves_the_champion_and_challenger_into_the_resource() -> None:
    bundle = load_bundle(REPO)
    context = build_context(bundle, "serving", CANARY)
    raw = endpoints(bundle, "serving")["anomaly_endpoint"]
    resolved = resolve(raw, context)
    entities = resolved["config"]["served_entities"]
    assert [(e["name"], e["entity_name"], e["entity_version"]) for e in entities] == [
        ("champion", "finml_prd.markets.anomaly_model", "3"),
        ("challenger", "finml_prd.markets.anomaly_model", "4"),
    ]
    routes = resolved["config"]["traffic_config"]["routes"]
    assert [(r["served_model_name"], r["traffic_percentage"]) for r in routes] == [
        ("champion", "90"),
        ("challenger", "10"),
    ]
    assert resolved["config"]["auto_capture_config"]["catalog_name"] == "finml_prd"
    assert resolved["name"] == "finml-anomaly-prd"
    # The resolved resource is still a model_serving_endpoints resource of the schema.
    assert resources_problems({"model_serving_endpoints": {"e": resolved}}, ("resources",)) == []


def test_update_moves_the_canary_share_and_the_challenger_defaults_to_the_champion() -> None:
    bundle = load_bundle(REPO)
    traffic = endpoint_traffic(bundle, "serving", CANARY)
    assert (traffic.champion_version, traffic.challenger_version) == ("3", "4")
    assert traffic.challenger_percent == 10
    shifted = CANARY | {"champion_traffic_percent": "50", "challenger_traffic_percent": "50"}
    assert endpoint_traffic(bundle, "serving", shifted).challenger_percent == 50
    only_champion = endpoint_traffic(bundle, "serving", {"champion_version": "3"})
    assert (only_champion.challenger_version, only_champion.challenger_percent) == ("3", 0)


def test_validate_refuses_the_serving_target_without_a_champion_in_one_line() -> None:
    result = CliRunner().invoke(app(), ["bundle", "validate", "--root", str(REPO), "-t", "serving"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "targets.serving.variables.champion_version" in lines[0]
    assert "--var champion_version=N" in lines[0]
    ok = CliRunner().invoke(
        app(),
        ["bundle", "validate", "--root", str(REPO), "-t", "serving"]
        + [f"--var={k}={v}" for k, v in CANARY.items()],
    )
    assert ok.exit_code == 0, ok.output
    assert "1 serving endpoints, valid" in ok.output


def test_validate_names_a_split_that_does_not_sum_to_100() -> None:
    bad = CANARY | {"challenger_traffic_percent": "25"}
    _, problems = validate_bundle(REPO, "serving", bad)
    [problem] = problems
    assert problem.file == "resources/model_serving.yml"
    assert problem.key.endswith("anomaly_endpoint.config.traffic_config.routes")
    assert "summing to 100" in problem.message
    with pytest.raises(JobError, match="summing to 100"):
        endpoint_traffic(load_bundle(REPO), "serving", bad)
    with pytest.raises(JobError, match="expected one model_serving_endpoints"):
        endpoint_traffic(load_bundle(REPO), "prd", CANARY)


def test_serve_splits_as_the_bundle_targets_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``finml serve --traffic-from-bundle serving`` takes the challenger route's share."""
    from finml.cli.serving import _traffic_share

    monkeypatch.chdir(REPO)
    pairs = [f"{k}={v}" for k, v in CANARY.items()]
    assert _traffic_share(State(), "serving", pairs, from_endpoint=False) == 10.0
    monkeypatch.setenv("BUNDLE_VAR_champion_version", "3")  # as the Databricks CLI reads it
    assert _traffic_share(State(), "serving", [], from_endpoint=False) == 0.0
