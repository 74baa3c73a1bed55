"""The ``/mlops`` API on the serving app through FastAPI's TestClient, over a real sqlite
MLflow store (small real models) and real Delta tables (delta-rs): roles, the registry and
tracking views, and transitions and acknowledgements that write the same audit rows as the
CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from lifecycle_helpers import register_model, rows

from finml.config import ProjectConfig
from finml.errors import ConfigError
from finml.jobs.mlops import mount_mlops
from finml.models.transitions import TRANSITIONS
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.settings import AlertSettings
from finml.registry import ANOMALY_MODEL, CHAMPION, by_alias, model_name, set_alias
from finml.runtime.delta import DeltaTables
from finml.serving.app import create_app
from finml.serving.roles import RoleAuth, parse_tokens
from finml.serving.settings import ServingSettings
from finml.vocabulary import AlertSeverity, AlertType

READ, OPERATE = "r3ad-token-0123456789", "op3rate-token-0123456789"


def auth() -> RoleAuth:
    return RoleAuth(
        parse_tokens(f"viewer:{READ}", "read", "R") + parse_tokens(f"ops:{OPERATE}", "operate", "O")
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """Anomaly model v1 (@champion, scores by f1) and v2 (@challenger), ``test_set``, two
    runs with params and metric histories, and the app with /mlops mounted (no lifespan:
    the log writer is not needed here)."""
    config = ProjectConfig(home=tmp_path_factory.mktemp("mlops") / "home")
    tables = DeltaTables.from_config(config, None)
    name = model_name(config, ANOMALY_MODEL)
    v1 = register_model(config, "f1")
    set_alias(config, name, CHAMPION, v1)
    register_model(config, "f0")
    holdout = rows(600, seed=5, signal="f1")
    tables.table("test_set").append(pa.Table.from_pandas(holdout, preserve_index=False))
    runs = []
    for lr, auc in ((0.1, 0.80), (0.2, float("nan"))):
        with mlflow.start_run(run_name=f"lr-{lr}") as run:
            mlflow.log_params({"lr": lr, "trees": 100})
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("pr_auc", auc)
            mlflow.log_text("ok", "reports/summary.txt")
            runs.append(run.info.run_id)
    app = create_app(config, ServingSettings(), tables=tables, token="")
    mount_mlops(app, tables=tables, auth=auth())
    return config, tables, name, runs, TestClient(app)


def test_roles_401_without_or_with_a_bad_token_403_for_read_on_a_post(world) -> None:
    *_, client = world
    transition = "/mlops/models/x/versions/1/transition"
    body = {"to": "challenger"}
    assert client.get("/mlops/status").status_code == 401
    assert client.get("/mlops/status", headers=bearer("not-a-token")).status_code == 401
    assert client.post(transition, json=body).status_code == 401
    assert client.get("/mlops/status", headers=bearer(READ)).status_code == 200
    assert client.get("/mlops/serving", headers=bearer(OPERATE)).status_code == 200
    forbidden = client.post(transition, json=body, headers=bearer(READ))
    assert forbidden.status_code == 403 and "role 'operate'" in forbidden.json()["detail"]
    assert READ not in forbidden.text
    scoring = client.get("/models")  # the scoring routes keep their own (here: no) token
    assert scoring.status_code == 200


def test_no_tokens_configured_closes_every_mlops_route(world, monkeypatch) -> None:
    config, tables, *_ = world
    monkeypatch.delenv("FINML_MLOPS_READ_TOKENS", raising=False)
    monkeypatch.delenv("FINML_MLOPS_OPERATE_TOKENS", raising=False)
    app = mount_mlops(create_app(config, ServingSettings(), tables=tables, token=""))
    closed = TestClient(app).get("/mlops/status", headers=bearer(READ))
    assert closed.status_code == 401


def test_token_entries_are_checked_without_showing_the_token() -> None:
    [(_, caller)] = parse_tokens(f"  {READ} ", "read", "V")
    assert (caller.name, caller.role, caller.actor) == ("read-1", "read", "api:read-1")
    with pytest.raises(ConfigError, match=r"V, entry 2: .* got 5 characters") as err:
        parse_tokens(f"{READ},a:short", "operate", "V")
    assert "short" not in str(err.value)
    with pytest.raises(ConfigError, match="an empty name"):
        parse_tokens(f":{READ}", "read", "V")


def test_status_serving_and_models(world) -> None:
    _, _, name, _, client = world
    status = client.get("/mlops/status", headers=bearer(READ)).json()
    assert status["model_name"] == name
    assert status["champion"]["version"] == 1 and status["champion"]["champion"]
    assert status["challenger"]["version"] == 2 and status["previous_champion"] is None
    assert status["tables"]["test_set"] == 0 and status["tables"]["alerts"] is None
    serving = client.get("/mlops/serving", headers=bearer(READ)).json()
    assert (serving["champion_version"], serving["challenger_version"]) == (1, 2)
    assert serving["ab_mode"] == "off" and serving["uptime_seconds"] >= 0
    [model] = client.get("/mlops/models", headers=bearer(READ)).json()["models"]
    assert model["name"] == name and model["aliases"]["champion"] == 1
    assert [v["version"] for v in model["versions"]] == [2, 1]
    assert model["versions"][1]["tags"]["finml.metric.pr_auc"] == "0.800000"
    one = client.get(f"/mlops/models/{name}/versions/2", headers=bearer(READ))
    assert one.json()["aliases"] == ["challenger", "latest-model"]
    missing = client.get(f"/mlops/models/{name}/versions/9", headers=bearer(READ))
    assert missing.status_code == 404 and "version 9" in missing.json()["detail"]


def test_experiments_runs_metrics_and_artifacts(world) -> None:
    _, _, _, (first, second), client = world
    get = lambda url, **params: client.get(url, params=params, headers=bearer(READ))  # noqa: E731
    names = [e["name"] for e in get("/mlops/experiments").json()["experiments"]]
    assert "finml" in names
    found = get("/mlops/runs", experiment="finml", filter="params.lr = '0.2'").json()["runs"]
    assert [r["run_id"] for r in found] == [second]
    assert found[0]["metrics"]["pr_auc"] is None  # NaN has no JSON number
    assert get("/mlops/runs", filter="params.lr = ").status_code == 422
    assert get("/mlops/runs", experiment="nope").status_code == 404
    assert get("/mlops/runs", max_results=1).json()["runs"][0]["run_id"] == second  # newest
    run = get(f"/mlops/runs/{first}").json()
    assert run["params"] == {"lr": "0.1", "trees": "100"} and run["metrics"]["loss"] == 1 / 3
    assert get(f"/mlops/runs/{'0' * 32}").status_code == 404
    assert get("/mlops/runs/not-hex").status_code == 422
    history = get(f"/mlops/runs/{first}/metrics/loss").json()["history"]
    assert [(p["step"], p["value"]) for p in history] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert get(f"/mlops/runs/{first}/metrics/nope").status_code == 404
    listed = get(f"/mlops/runs/{first}/artifacts").json()["artifacts"]
    assert listed == [{"path": "reports", "is_dir": True, "file_size": None}]
    inside = get(f"/mlops/runs/{first}/artifacts", path="reports").json()["artifacts"]
    assert inside == [{"path": "reports/summary.txt", "is_dir": False, "file_size": 2}]
    climbing = get(f"/mlops/runs/{first}/artifacts", path="reports/../../..")
    assert climbing.status_code == 422 and "path: expected a relative" in climbing.text


def test_runs_side_by_side(world) -> None:
    *_, (first, second), client = world
    url = f"/mlops/runs/compare?run_id={first}&run_id={second}"
    rows_ = client.get(url, headers=bearer(READ)).json()["rows"]
    keyed = {(r["kind"], r["key"]): r for r in rows_}
    assert keyed["param", "lr"]["differs"] and not keyed["param", "trees"]["differs"]
    assert keyed["metric", "pr_auc"]["values"] == {first: 0.8, second: None}
    assert keyed["metric", "loss"]["delta"] == [0.0, 0.0]
    only = client.get(url + "&diff=true", headers=bearer(READ)).json()["rows"]
    assert ("param", "trees") not in {(r["kind"], r["key"]) for r in only}
    one = client.get(f"/mlops/runs/compare?run_id={first}", headers=bearer(READ))
    assert one.status_code == 422 and "run_id" in one.json()["detail"]
    unknown = client.get(f"{url}&run_id={'f' * 32}", headers=bearer(READ))
    assert unknown.status_code == 404 and "f" * 32 in unknown.json()["detail"]


def _audit(tables) -> list[dict]:
    found = tables.table(TRANSITIONS).to_arrow().to_pylist()
    return sorted(found, key=lambda r: r["moved_at"])


def test_transitions_go_through_the_gate_and_are_audited(world) -> None:
    config, tables, name, _, client = world
    url = f"/mlops/models/{name}/versions/{{}}/transition"
    post = lambda v, **body: client.post(url.format(v), json=body, headers=bearer(OPERATE))  # noqa: E731
    archived = post(2, to="archived", reason="leaks the label")
    assert archived.status_code == 200
    assert archived.json() | {"event_id": "-"} == {
        "event_id": "-",
        "model_name": name,
        "version": 2,
        "to": "archived",
        "decision": "DONE",
        "moved": True,
        "reasons": [],
        "gate_event_id": None,
        "actor": "api:ops",
    }
    assert post(2, to="challenger").json()["decision"] == "DONE"
    rejected = post(1, to="champion", reason="again")  # already the champion: the gate rejects
    assert rejected.status_code == 409
    decision = rejected.json()["decision"]
    assert decision["decision"] == "REJECT" and not decision["moved"]
    assert "already the champion" in rejected.json()["detail"]
    refused = post(1, to="archived")
    assert refused.status_code == 409 and "cannot be archived" in refused.json()["detail"]
    missing = post(9, to="challenger")
    assert missing.status_code == 404 and "version 9" in missing.json()["detail"]
    bad = post(2, to="prod")
    assert bad.status_code == 422 and "field 'to'" in bad.json()["detail"]
    other = client.post(
        url.replace(name, "main.x.other").format(2),
        json={"to": "archived"},
        headers=bearer(OPERATE),
    )
    assert other.status_code == 422 and "name: expected the anomaly model" in other.text
    forced = post(2, to="champion", reason="hotfix", force=True)
    assert forced.status_code == 200 and forced.json()["decision"] == "MANUAL_PROMOTE"
    assert by_alias(config, name, CHAMPION).version == 2
    audit = _audit(tables)
    assert [(r["version"], r["to_state"], r["decision"], r["actor"]) for r in audit] == [
        ("2", "archived", "DONE", "api:ops"),
        ("2", "challenger", "DONE", "api:ops"),
        ("1", "champion", "REJECT", "api:ops"),
        ("2", "champion", "MANUAL_PROMOTE", "api:ops"),
    ]
    gate = tables.table("champion_challenger_audit").to_arrow().to_pylist()
    assert {r["event_id"] for r in gate} >= {audit[2]["gate_event_id"], audit[3]["gate_event_id"]}
    set_alias(config, name, CHAMPION, 1)  # leave the module's world as it was


def test_acknowledging_an_alert(world) -> None:
    _, tables, _, _, client = world
    [row] = AlertManager(AlertSettings(), tables).send(
        Alert(AlertType.DRIFT, AlertSeverity.HIGH, "drifted", "psi 0.4")
    )
    url = f"/mlops/alerts/{row['alert_id']}/ack"
    done = client.post(url, json={"note": "looking"}, headers=bearer(OPERATE))
    assert done.status_code == 200
    assert done.json()["acknowledged_by"] == "ops" and done.json()["new"]
    again = client.post(url, json={"by": "carol"}, headers=bearer(OPERATE)).json()
    assert again["acknowledged_by"] == "ops" and not again["new"]  # idempotent
    missing = client.post("/mlops/alerts/f00/ack", json={}, headers=bearer(OPERATE))
    assert missing.status_code == 404 and "alert 'f00'" in missing.json()["detail"]
    extra = client.post(url, json={"by": "x", "actor": "y"}, headers=bearer(OPERATE))
    assert extra.status_code == 422 and "actor" in extra.json()["detail"]


def test_openapi_documents_every_mlops_route_with_models(world) -> None:
    *_, client = world
    doc = client.get("/openapi.json").json()
    mlops = {p: ops for p, ops in doc["paths"].items() if p.startswith("/mlops")}
    assert len(mlops) == 12
    for path, ops in mlops.items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "200" in codes and "401" in codes, (path, method)
            assert ("403" in codes) == (method == "post"), (path, method)
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert "$ref" in ok, (path, method)
            assert op["security"] == [{"MLOpsBearer": []}]


def test_the_tokens_can_come_from_the_environments_sops_file(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no token variable set, ``finml serve`` reads the roles from the config's secret
    store: here a real sops file encrypted to a throwaway age key."""
    from secret_tools import age_key, encrypt, tool

    key = age_key(tmp_path)
    plain = f"FINML_MLOPS_READ_TOKENS: viewer:{READ}\nFINML_MLOPS_OPERATE_TOKENS: ops:{OPERATE}\n"
    secrets = encrypt(plain, tmp_path / "secrets" / "dev.enc.yaml", key.recipient)
    for name in ("FINML_MLOPS_READ_TOKENS", "FINML_MLOPS_OPERATE_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINML_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.file))
    monkeypatch.setenv("FINML_SOPS", tool("sops"))
    config, tables, *_ = world
    client = TestClient(mount_mlops(create_app(config, ServingSettings(), tables=tables, token="")))
    assert client.get("/mlops/status", headers=bearer(READ)).status_code == 200
    assert client.get("/mlops/status", headers=bearer("not-a-token")).status_code == 401
    moved = client.post(
        "/mlops/models/x/versions/1/transition", json={"to": "challenger"}, headers=bearer(READ)
    )
    assert moved.status_code == 403
