"""The deployable anomaly model: an MLflow pyfunc carrying feature selection, preprocessing,
the fitted scorer and the decision threshold.

``predict(pandas.DataFrame with the feature columns)`` returns a DataFrame with ``score``
(float in [0, 1]) and ``prediction`` (0/1 at the threshold) — the shared contract for batch
scoring and serving. In memory and after ``mlflow.pyfunc.load_model`` the same code path runs,
so both give identical numbers.

Up to :data:`ROW_PATH_ROWS` rows are scored by the scorer's row path
(:meth:`~finml.models.base.AnomalyModel.score_rows`: the same numbers without the libraries'
per-call set-up), and :meth:`AnomalyPyfunc.predict_array` takes and returns numpy arrays,
for a server that already holds the features as one matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

    from finml.models.base import AnomalyModel, Preprocessor

# The candidates' libraries; the FinML code and what it imports come with it
# (:mod:`finml.registry.packaging`).
_REQUIREMENTS = ("scikit-learn", "lightgbm", "xgboost-cpu", "cloudpickle")
ROW_PATH_ROWS = 32  # beyond this, the libraries' batch calls are the faster way


class AnomalyPyfunc(PythonModel):
    """Preprocessor + scorer + threshold behind MLflow's ``predict``."""

    def __init__(self, scorer: AnomalyModel, preprocessor: Preprocessor, threshold: float):
        self.scorer = scorer
        self.preprocessor = preprocessor
        self.threshold = float(threshold)

    @property
    def features(self) -> tuple[str, ...]:
        return self.preprocessor.features

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Scores and 0/1 predictions for ``frame`` (extra columns are ignored)."""
        scores, predictions = self._score(self.preprocessor.transform(frame))
        return pd.DataFrame({"score": scores, "prediction": predictions}, index=frame.index)

    def predict_array(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (float64) and 0/1 predictions (int64) of ``values``: rows x ``features``
        as float64, in that column order. The same numbers as :meth:`predict`, without a
        DataFrame in or out."""
        return self._score(self.preprocessor.impute(np.asarray(values, dtype=np.float64)))

    def _score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = self.scorer.score_rows(x) if len(x) <= ROW_PATH_ROWS else self.scorer.score(x)
        scores = np.asarray(np.clip(raw, 0.0, 1.0), dtype=np.float64)
        return scores, (scores >= self.threshold).astype(np.int64)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        return self.score_frame(model_input)


def requirements() -> list[str]:
    """Pinned pip requirements of the pyfunc (given explicitly: inference costs seconds)."""
    from finml.registry.packaging import pinned

    return pinned(_REQUIREMENTS)


def log_pyfunc(
    model: AnomalyPyfunc, example: pd.DataFrame, name: str = "model", **kwargs: Any
) -> ModelInfo:
    """Log ``model`` in the active run with its signature (features as double inputs), an
    input example and FinML's code (it loads without FinML installed); returns MLflow's
    ``ModelInfo`` (``.model_uri`` to register)."""
    import warnings

    import mlflow
    from mlflow.models import infer_signature

    from finml.registry.packaging import model_code

    example = example[list(model.features)].astype(np.float64).head(5).reset_index(drop=True)
    with warnings.catch_warnings(), model_code() as code:
        # "integer columns cannot hold missing values": `prediction` is an int by contract
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(example, model.score_frame(example))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=model,
            signature=signature,
            input_example=example,
            pip_requirements=requirements(),
            code_paths=code,
            **kwargs,
        )
