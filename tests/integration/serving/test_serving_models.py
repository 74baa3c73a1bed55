"""Loaded models score exactly as MLflow's own ``pyfunc.predict`` does, on real models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml import registry
from finml.serving.models import ModelContractError, _score_and_prediction, load_alias


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
