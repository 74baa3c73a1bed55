"""Loaded models score exactly as MLflow's own ``pyfunc.predict`` does, on real models: the
sample model and a real ensemble champion (served through its numpy entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from serving_helpers import ENSEMBLE_MODEL

from finml import registry
from finml.config import ProjectConfig
from finml.serving.models import ModelContractError, _score_and_prediction, load_alias

# What unpickling the anomaly pyfunc imports of finml (before and after the row path).
PYFUNC_MODULES = {
    "finml",
    "finml.errors",
    "finml.models",
    "finml.models.base",
    "finml.models.candidates",
    "finml.models.ensemble",
    "finml.models.pyfunc",
    "finml.models.settings",
    "finml.settings_base",  # the strict base of the models settings (pydantic only)
}


@pytest.fixture
def champion(serving_config):
    registry.configure(serving_config)
    name = registry.model_name(serving_config, "anomaly_model")
    return load_alias(serving_config, name, "champion")


def test_scores_match_pyfunc_predict_in_any_column_order(champion) -> None:
    features = champion.features
    values = np.random.default_rng(7).normal(size=(25, len(features)))
    expected = champion.pyfunc.predict(pd.DataFrame(values, columns=list(features)))
    scores, predictions = champion.score(values, features)
    # other memory layouts (MLflow's schema enforcement copies the frame; a column selection
    # copies the matrix) may change the last bit of a BLAS dot product, never more
    np.testing.assert_allclose(scores, expected["score"].to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(predictions, expected["prediction"].to_numpy())
    # a request schema with the columns in another order and one more (a challenger's view)
    wider = (*reversed(features), "unused")
    matrix = np.column_stack([values[:, ::-1], np.zeros(len(values))])
    again, again_predictions = champion.score(matrix, wider)
    np.testing.assert_allclose(again, scores, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(again_predictions, predictions)
    assert champion.predict_fn.__qualname__.startswith("_python_model_predict")


@pytest.mark.parametrize(
    "out",
    [
        pd.DataFrame({"prediction": [1, 0], "score": [0.9, 0.1]}),
        pd.DataFrame({"score": [0.9, 0.1], "prediction": [1, 0], "label": ["a", "b"]}),
        {"score": [0.9, 0.1], "prediction": [1, 0]},
    ],
)
def test_output_columns_are_read_from_any_output_shape(out) -> None:
    scores, predictions = _score_and_prediction(out)
    assert scores.tolist() == [0.9, 0.1] and predictions.tolist() == [1, 0]
    assert predictions.dtype == np.int64


def test_non_finite_score_breaks_the_contract(champion) -> None:
    class NaNModel:
        def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"score": [np.nan] * len(frame), "prediction": 0})

    broken = type(champion)(champion.name, 9, "champion", champion.features, NaNModel())
    object.__setattr__(broken, "predict_fn", broken.pyfunc.predict)  # no MLflow wrapper
    with pytest.raises(ModelContractError, match="finite scores"):
        broken.score(np.zeros((1, len(champion.features))), champion.features)


@pytest.fixture
def ensemble(ensemble_home, tmp_path):
    config = ProjectConfig(home=ensemble_home, warehouse=tmp_path / "warehouse")
    registry.configure(config)
    rows = pd.read_parquet(ensemble_home / "ensemble_rows.parquet")
    return config, load_alias(config, registry.model_name(config, ENSEMBLE_MODEL), "champion"), rows


def test_ensemble_row_by_row_scores_as_mlflow_predicts_the_batch(ensemble) -> None:
    _, champion, rows = ensemble
    assert champion.array_fn is not None  # served through predict_array, no DataFrame
    expected = champion.pyfunc.predict(rows)  # MLflow's own path: schema enforcement, batch
    values = rows.to_numpy(np.float64)
    alone = [champion.score(values[i : i + 1], champion.features) for i in range(len(values))]
    scores = np.concatenate([s for s, _ in alone])
    np.testing.assert_allclose(scores, expected["score"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(
        np.concatenate([p for _, p in alone]), expected["prediction"].to_numpy()
    )
    together, _ = champion.score(values, champion.features)
    np.testing.assert_allclose(together, expected["score"].to_numpy(), rtol=0, atol=1e-9)


def test_logged_ensemble_loads_the_normal_way_needing_no_more_of_finml(ensemble) -> None:
    config, champion, rows = ensemble
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model('models:/{champion.name}/{champion.version}')\n"
        f"out = model.predict(pd.read_parquet({str(config.home / 'ensemble_rows.parquet')!r}))\n"
        "mods = sorted(m for m in sys.modules if m == 'finml' or m.startswith('finml.'))\n"
        "print(json.dumps({'modules': mods, 'scores': out['score'].head(20).tolist()}))\n"
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.tracking_uri,
        "MLFLOW_REGISTRY_URI": config.registry_uri,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(found["modules"]) <= PYFUNC_MODULES, found["modules"]
    expected, _ = champion.score(rows.to_numpy(np.float64)[:20], champion.features)
    np.testing.assert_allclose(found["scores"], expected, rtol=0, atol=1e-9)
