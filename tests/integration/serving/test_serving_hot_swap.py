"""Moving the champion alias under continuous load fails zero requests (real server)."""

from __future__ import annotations

import threading
import time

import httpx
from serving_helpers import RECORD, running

from finml import registry
from finml.config import ProjectConfig
from finml.serving.app import create_app
from finml.serving.sample_model import log_sample_model
from finml.serving.settings import ServingSettings

CLIENTS, MAX_REQUESTS = 3, 3_000


def test_alias_move_under_load_fails_nothing(model_home, tmp_path) -> None:
    config = ProjectConfig(home=model_home, warehouse=tmp_path / "wh")
    v1 = log_sample_model(config, seed=0, aliases=("champion",), short_name="hotswap_model")
    v2 = log_sample_model(config, seed=3, aliases=(), short_name="hotswap_model")
    settings = ServingSettings.from_section({"model": "hotswap_model", "poll_seconds": 0.2})
    app = create_app(config, settings, token="")
    stop = threading.Event()
    seen: list[list[str]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []

    def client(i: int) -> None:
        with httpx.Client(timeout=10) as http:
            for _ in range(MAX_REQUESTS):
                if stop.is_set():
                    return
                try:
                    r = http.post(f"{base}/predict", json={**RECORD, "symbol": f"S{i}"})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")
                else:
                    seen[i].append(r.json()["model_version"])

    with running(app) as base:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        registry.set_alias(config, v1.name, "champion", v2.version)
        deadline = time.monotonic() + 15
        while not all(s and s[-1] == str(v2.version) for s in seen):
            assert time.monotonic() < deadline, "the new champion was never served"
            time.sleep(0.1)
        time.sleep(0.5)  # keep the load on after the swap
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    for versions in seen:
        assert versions[0] == str(v1.version) and versions[-1] == str(v2.version)
        first_new = versions.index(str(v2.version))
        assert set(versions[first_new:]) == {str(v2.version)}  # no flapping back
    assert app.state.serving.slots.swaps == 1


def test_champion_with_other_features_is_refused(model_home, tmp_path) -> None:
    config = ProjectConfig(home=model_home, warehouse=tmp_path / "wh")
    v1 = log_sample_model(config, seed=0, aliases=("champion",), short_name="refuse_model")
    v2 = log_sample_model(
        config, seed=1, aliases=(), short_name="refuse_model", features=("a", "b")
    )
    settings = ServingSettings.from_section({"model": "refuse_model"})
    state = create_app(config, settings, token="").state.serving
    registry.set_alias(config, v1.name, "champion", v2.version)
    assert state.poller.check() == []  # refused: the published schema would be wrong
    assert state.slots.current.champion.version == v1.version and state.poller.errors == 1
    registry.set_alias(config, v1.name, "challenger", v2.version)
    assert state.poller.check() == []  # a challenger needing unknown features is refused too
    assert state.poller.errors == 2  # the refused champion was not reloaded on this poll
