"""Registered FinML models load and predict where FinML is not installed (issue 20 item 3).

A fresh virtualenv gets only the models' own ``requirements.txt`` (MLflow and the pinned
libraries); ``mlflow models predict`` of that venv then scores ``models:/…@champion`` of the
anomaly model (a real ensemble of the tournament's candidates) and of the regime model, and
the answers equal the in-process ones. Installing from pip's cache takes about a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finml import registry
from finml.config import ProjectConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import mlflow

    from finml.models.pyfunc import log_pyfunc
    from finml.models.synthetic import trained_ensemble
    from finml.regimes.markov import MarkovChain
    from finml.regimes.pyfunc import log_regime_model

    config = ProjectConfig(home=tmp_path_factory.mktemp("packaging") / "home")
    registry.configure(config)
    pyfunc, test = trained_ensemble(1500, seed=3)
    with mlflow.start_run(run_name="self-contained"):
        info = log_pyfunc(pyfunc, test)
    anomaly = registry.model_name(config, registry.ANOMALY_MODEL)
    registry.register(config, info.model_uri, anomaly, aliases=("champion",))
    chain = MarkovChain.fit(np.array([0, 0, 1, 2, 1, 0, 0, 1, 1, 2, 2, 0, 0]), bootstrap=10)
    log_regime_model(config, chain, {}, {}, {"source": "test"}, ("champion",))
    return {
        "env": {
            "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
            "MLFLOW_REGISTRY_URI": mlflow.get_registry_uri(),
        },
        "anomaly": (f"models:/{anomaly}@champion", pyfunc, test),
        "regime": f"models:/{registry.model_name(config, registry.REGIME_MODEL)}@champion",
    }


@pytest.fixture(scope="module")
def venv(store: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the union of both champions' requirements, and nothing else."""
    import mlflow

    root = tmp_path_factory.mktemp("fresh")
    lines: set[str] = set()
    for uri in (store["anomaly"][0], store["regime"]):
        path = mlflow.artifacts.download_artifacts(f"{uri}/requirements.txt", dst_path=root)
        lines |= set(Path(path).read_text().split())
    requirements = root / "requirements.txt"
    requirements.write_text("\n".join(sorted(lines)) + "\n")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    pip = [str(root / "venv/bin/python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--disable-pip-version-check", "-r", str(requirements)],
                   check=True, timeout=900)  # fmt: skip
    return root / "venv"


def predict(venv: Path, store: dict, uri: str, frame: pd.DataFrame, tmp_path: Path) -> list:
    source, target = tmp_path / "input.json", tmp_path / "output.json"
    split = json.loads(frame.to_json(orient="split", index=False))
    source.write_text(json.dumps({"dataframe_split": split}))
    command = [str(venv / "bin/mlflow"), "models", "predict", "-m", uri, "-i", str(source),
               "-t", "json", "-o", str(target), "--env-manager", "local"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, env=env | store["env"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(target.read_text())["predictions"]


def test_the_fresh_venv_has_no_finml(venv: Path) -> None:
    done = subprocess.run([str(venv / "bin/python"), "-c", "import finml"], capture_output=True,
                          text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 1 and "No module named 'finml'" in done.stderr


def test_the_anomaly_champion_predicts_without_finml(venv, store, tmp_path) -> None:
    uri, pyfunc, test = store["anomaly"]
    frame = test[list(pyfunc.features)]
    ranked = pyfunc.score_frame(frame)["score"].sort_values()
    # the 20 highest and 20 lowest scored rows: both classes are in the answer
    rows = frame.loc[[*ranked.index[:20], *ranked.index[-20:]]].reset_index(drop=True)
    found = pd.DataFrame(predict(venv, store, uri, rows, tmp_path))
    expected = pyfunc.score_frame(rows)
    np.testing.assert_allclose(found["score"], expected["score"], rtol=0, atol=1e-9)
    assert found["prediction"].tolist() == expected["prediction"].tolist()
    assert 0 < found["prediction"].sum() < len(rows)  # both classes: a constant would fail


def test_the_regime_champion_predicts_without_finml(venv, store, tmp_path) -> None:
    import mlflow

    rows = pd.DataFrame({"regime": ["Normal", "Stress", "Crisis"], "steps": [1, 2, 5]})
    found = pd.DataFrame(predict(venv, store, store["regime"], rows, tmp_path))
    expected = mlflow.pyfunc.load_model(store["regime"]).predict(rows)
    assert found["next_regime"].tolist() == expected["next_regime"].tolist()
    columns = ["p_normal", "p_stress", "p_crisis"]
    np.testing.assert_allclose(found[columns], expected[columns], rtol=0, atol=1e-12)
