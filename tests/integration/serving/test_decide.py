"""``POST /decide`` in-process (TestClient runs the real app and its lifespan) on a real MLflow
store whose champion takes the trade features, silver trades to warm the online state from
and regime states: features equal the online build's, the probability the champion's, the
regime view the previous day's; bad input is a 422 naming the field; every decision reaches
the Delta table ``decisions`` by shutdown."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from finml.config import ProjectConfig
from finml.features.frame import feature_names
from finml.features.online import OnlineFeatures, RawTrade
from finml.features.settings import FeatureSettings
from finml.runtime.delta import DeltaTables
from finml.serving.app import create_app
from finml.serving.decide import STAGES
from finml.serving.settings import ServingSettings

NAMES = tuple(feature_names(FeatureSettings()))
START = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)  # Thursday 10:00 in New York
EAGER = {"min_confidence": 0.0, "payoff_ratio": 1e9}  # any probability above 1e-9 is acted on


def _silver(n: int = 700) -> pd.DataFrame:
    g = np.random.default_rng(4)
    prices = np.round(100 * np.exp(np.cumsum(g.normal(0, 0.001, n))), 4)
    ts = [START - timedelta(seconds=2 * (n - i)) for i in range(n)]
    return pd.DataFrame(
        {
            "symbol": "AAA",
            "ts": ts,
            "trade_id": [f"h{i}" for i in range(n)],
            "price": prices,
            "volume": g.integers(1, 500, n).astype(float),
            "trade_date": [t.astimezone(UTC).date() for t in ts],
        }
    )


@pytest.fixture(scope="module")
def decide_home(tmp_path_factory: pytest.TempPathFactory):
    from finml.serving.sample_model import log_sample_model

    home = tmp_path_factory.mktemp("decide_home")
    config = ProjectConfig(home=home)
    log_sample_model(config, features=NAMES, seed=0, aliases=("champion",))
    tables = DeltaTables.from_config(config, None)
    tables.table("silver_trades").append(pa.Table.from_pandas(_silver(), preserve_index=False))
    states = pd.DataFrame(
        {
            "symbol": "AAA",
            "trade_date": [date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7)],
            "p_filtered_normal": [0.9, 0.5, 0.0],
            "p_filtered_stress": [0.1, 0.3, 0.0],
            "p_filtered_crisis": [0.0, 0.2, 1.0],
            "p_next_normal": [0.8, 0.4, 0.0],
            "p_next_stress": [0.2, 0.4, 0.0],
            "p_next_crisis": [0.0, 0.2, 1.0],
        }
    )
    tables.table("regime_states").append(pa.Table.from_pandas(states, preserve_index=False))
    return home


def _config(home, tmp_path, decisions: dict | None = None) -> ProjectConfig:
    return ProjectConfig(home=home, warehouse=tmp_path / "wh", decisions=decisions or {})


def _app(config: ProjectConfig, token: str = ""):
    import shutil

    # the silver and regime tables are the shared home's; this test's warehouse gets a copy
    source = DeltaTables.from_config(ProjectConfig(home=config.home), None)
    target = DeltaTables.from_config(config, None)
    for name in ("silver_trades", "regime_states"):
        shutil.copytree(source.table(name).location, target.table(name).location)
    settings = ServingSettings.from_section({"inference_log": {"flush_seconds": 0.1}})
    return create_app(config, settings, tables=target, token=token, decide=True)


def trade(seconds: float, price: float, **more) -> dict:
    ts = (START + timedelta(seconds=seconds)).isoformat()
    return {"symbol": "AAA", "ts": ts, "price": price, "volume": 100.0, **more}


def decisions_of(config: ProjectConfig) -> list[dict]:
    return DeltaTables.from_config(config, None).table("decisions").to_arrow().to_pylist()


def test_decide_returns_online_features_the_champions_probability_and_a_decision(
    decide_home, tmp_path
) -> None:
    config = _config(decide_home, tmp_path)
    body = trade(1.0, 100.8, trade_id="new-1")
    with TestClient(_app(config)) as client:
        r = client.post("/decide", json=body, headers={"X-Request-ID": "d-1"})
        assert r.status_code == 200, r.text
        got = r.json()
    # the same trade through a fresh online build warmed from the same silver rows
    online = OnlineFeatures(FeatureSettings())
    online.warm_start(_silver())
    expected = online.update(RawTrade("AAA", START + timedelta(seconds=1), 100.8, 100.0, "new-1"))
    assert got["features"] == pytest.approx(expected.features, rel=1e-12, nan_ok=True)
    champion = mlflow.pyfunc.load_model(f"models:/{got['model_name']}/1")
    frame = pd.DataFrame([[expected.features[n] for n in NAMES]], columns=list(NAMES))
    assert got["anomaly_probability"] == pytest.approx(champion.predict(frame)["score"][0])
    # the regime model's view of 6 March: the trade's own day (7 March) is not known yet
    assert got["regime"] == {"Normal": 0.5, "Stress": 0.3, "Crisis": 0.2}
    assert got["next_regime"] == {"Normal": 0.4, "Stress": 0.4, "Crisis": 0.2}
    assert got["action"] in ("NO_ACTION", "RISK_REJECTED", "TAKE_ACTION")
    assert set(got["latency_ms"]) == set(STAGES) and got["latency_ms"]["total"] > 0
    rows = decisions_of(config)  # flushed at shutdown
    assert [(r["run_id"], r["trade_id"], r["source"]) for r in rows] == [
        ("d-1", "new-1", "serving")
    ]


def test_an_eager_policy_takes_and_then_holds_a_position(decide_home, tmp_path) -> None:
    config = _config(decide_home, tmp_path, EAGER)
    with TestClient(_app(config)) as client:
        first = client.post("/decide", json=trade(1.0, 101.5)).json()  # +1.5 % jump: short
        second = client.post("/decide", json=trade(2.0, 101.4)).json()
        batch = client.post(
            "/decide/batch", json={"trades": [trade(3.0, 101.3), trade(4.0, 99.0)]}
        ).json()
        metrics = client.get("/metrics").text
    assert first["action"] == "TAKE_ACTION" and first["side"] == -1, first["reason"]
    assert first["quantity"] > 0 and first["kelly"] > 0
    assert second["action"] == "NO_ACTION"
    assert second["reason"] == "position open, no exit condition"
    # 99.0 is a 2.5 % fall from the 101.5 entry: take profit
    assert [d["action"] for d in batch["decisions"]] == ["NO_ACTION", "EXIT_POSITION"]
    assert batch["decisions"][1]["pnl"] > 0
    assert 'finml_decide_stage_seconds_count{stage="total"} 4.0' in metrics
    assert [r["action"] for r in decisions_of(config)].count("TAKE_ACTION") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (trade(1.0, -1.0), "price"),
        (trade(1.0, float("nan")), "price"),
        ({**trade(1.0, 100.0), "volume": 0}, "volume"),
        ({k: v for k, v in trade(1.0, 100.0).items() if k != "symbol"}, "symbol"),
        ({**trade(1.0, 100.0), "bogus": 1}, "bogus"),
        ({**trade(1.0, 100.0), "ts": "yesterday-ish"}, "ts"),
    ],
)
def test_bad_trades_are_422_naming_the_field(decide_home, tmp_path, body, field) -> None:
    import json

    config = _config(decide_home, tmp_path)
    with TestClient(_app(config)) as client:
        r = client.post(
            "/decide", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 422, r.text
    assert field in r.text


def test_late_and_duplicate_trades(decide_home, tmp_path) -> None:
    config = _config(decide_home, tmp_path)
    with TestClient(_app(config)) as client:
        first = client.post("/decide", json=trade(1.0, 100.0, trade_id="x")).json()
        again = client.post("/decide", json=trade(1.0, 100.0, trade_id="x")).json()
        late = client.post("/decide", json=trade(-3000.0, 100.0, trade_id="old"))
    assert again["duplicate"] and again["features"] == first["features"]
    assert late.status_code == 422 and "lookback is kept" in late.json()["detail"]


def test_decide_needs_the_token_when_one_is_set(decide_home, tmp_path) -> None:
    config = _config(decide_home, tmp_path)
    with TestClient(_app(config, token="s3cret")) as client:
        assert client.post("/decide", json=trade(1.0, 100.0)).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.post("/decide", json=trade(1.0, 100.0), headers=wrong).status_code == 403
        ok = {"Authorization": "Bearer s3cret"}
        assert client.post("/decide", json=trade(1.0, 100.0), headers=ok).status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/decide", "/decide/batch"} <= set(paths)


def test_fuzzed_trades_get_no_server_error(decide_home, tmp_path) -> None:
    """schemathesis against a real server on loopback: valid and invalid bodies of both
    routes, with and without the token; no 5xx and only documented statuses."""
    import itertools

    import schemathesis
    from schemathesis import GenerationMode
    from serving_helpers import running

    config = _config(decide_home, tmp_path)
    seen: set[int] = set()
    with running(_app(config, token="fuzz")) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [
            op.ok() for op in schema.get_all_operations() if op.ok().path.startswith("/decide")
        ]
        assert len(operations) == 2
        auth = ({"Authorization": "Bearer fuzz"}, {})
        for operation, mode, headers in itertools.product(operations, GenerationMode, auth):
            _fuzz(operation, mode, headers, base, seen)
    assert {200, 401, 422} <= seen


def _fuzz(operation, mode, headers: dict, base: str, seen: set[int]) -> None:
    from hypothesis import HealthCheck, given, settings

    documented = operation.definition.raw["responses"]

    @settings(
        max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        response = case.call(base_url=base, headers=headers)
        seen.add(response.status_code)
        assert response.status_code < 500, (repr(case.body)[:300], response.text[:300])
        assert str(response.status_code) in documented, response.status_code

    check()


def test_a_new_symbols_first_trade_waits_for_its_features(decide_home, tmp_path) -> None:
    config = _config(decide_home, tmp_path, EAGER)
    with TestClient(_app(config)) as client:
        first = client.post("/decide", json={**trade(1.0, 50.0), "symbol": "NEW"}).json()
    assert first["anomaly_probability"] is None and first["action"] == "NO_ACTION"
    assert first["reason"].startswith("warming up: ") and first["features"]["log_return"] is None


def test_sigterm_flushes_every_decision(decide_home, tmp_path) -> None:
    """``finml serve --decide`` as a real process (cold: its own empty warehouse): every
    answered decision is in ``decisions`` once after SIGTERM, though the last ones were
    still buffered when the signal came."""
    import signal

    import httpx
    from test_serving_shutdown import HEADERS, serve

    answered = []
    with serve(decide_home, tmp_path, "--decide") as served:
        with httpx.Client(base_url=served.base, headers=HEADERS, timeout=10) as http:
            for i in range(120):
                r = http.post("/decide", json=trade(float(i), 100.0 + i % 5 / 10, trade_id=f"s{i}"))
                assert r.status_code == 200, r.text
                answered.append(r.json()["request_id"])
        served.proc.send_signal(signal.SIGTERM)
    assert served.proc.returncode == 0, served.stderr[-2000:]
    wh = ProjectConfig(home=decide_home, warehouse=tmp_path / "wh")
    rows = decisions_of(wh)
    assert sorted(r["run_id"] for r in rows) == sorted(answered)
    assert {r["trade_id"] for r in rows} == {f"s{i}" for i in range(120)}


def test_a_stage_over_its_latency_budget_raises_one_latency_alert(decide_home, tmp_path) -> None:
    # budgets no real stage can meet (1 ns) over 0.3 s windows of at least 3 decisions
    budgets = {"features": 1e-6, "model": 1e-6, "decision": 1e3, "total": 1e3,
               "window_seconds": 0.3, "min_samples": 3}  # fmt: skip
    config = _config(decide_home, tmp_path, {"latency_budgets": budgets})
    with TestClient(_app(config)) as client:
        for i in range(4):
            assert client.post("/decide", json=trade(1.0 + i, 100.0)).status_code == 200
        time.sleep(0.35)  # the window has passed: the next decision closes it
        assert client.post("/decide", json=trade(9.0, 100.0)).status_code == 200
        metrics = client.get("/metrics").text
    alerts = DeltaTables.from_config(config, None).table("alerts").to_arrow().to_pylist()
    latency = [a for a in alerts if a["alert_type"] == "LATENCY"]
    assert sorted(a["title"] for a in latency) == [
        "/decide features p99 over budget",
        "/decide model p99 over budget",
    ]
    assert all("over 4 decisions" in a["message"] for a in latency)
    assert 'finml_decide_sla_breaches_total{stage="features"} 1.0' in metrics
    stored = decisions_of(config)
    assert len(stored) == 5
    assert all(set(json.loads(r["latency_ms"])) == set(STAGES) for r in stored)
