"""A small real anomaly model honouring the serving contract, for tests, demos and benchmarks.

The tournament (issue 5) registers the real ``anomaly_model``; serving must not wait for it.
:func:`log_sample_model` trains a scikit-learn logistic regression on synthetic rows, wraps it
in a pyfunc whose ``predict`` returns ``score`` (probability) and ``prediction`` (0/1 at the
threshold), logs it with a signature of double feature columns and registers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.registry import VersionInfo

SAMPLE_FEATURES = ("return_z", "volume_z", "spread_bps", "gap_z")


class ThresholdClassifier(PythonModel):
    """A fitted binary classifier + threshold behind the anomaly-model predict contract."""

    def __init__(self, classifier: Any, features: tuple[str, ...], threshold: float) -> None:
        self.classifier = classifier
        self.features = tuple(features)
        self.threshold = float(threshold)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        same = tuple(model_input.columns) == self.features
        x = (model_input if same else model_input[list(self.features)]).to_numpy(np.float64)
        score = self.classifier.predict_proba(x)[:, 1]
        return pd.DataFrame({"score": score, "prediction": (score >= self.threshold).astype(int)})


def synthetic_rows(
    rows: int, features: tuple[str, ...] = SAMPLE_FEATURES, seed: int = 0
) -> pd.DataFrame:
    """``rows`` random feature rows plus a ``label`` that depends on the first two features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(features)))
    logit = 2.5 * x[:, 0] + 1.5 * x[:, min(1, len(features) - 1)] - 3.0
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(x, columns=list(features))
    frame["label"] = label
    return frame


def log_sample_model(
    config: ProjectConfig,
    *,
    features: tuple[str, ...] = SAMPLE_FEATURES,
    seed: int = 0,
    threshold: float = 0.5,
    aliases: tuple[str, ...] = ("champion",),
    short_name: str = "anomaly_model",
    rows: int = 400,
) -> VersionInfo:
    """Train, log and register a sample model as ``<catalog>.<schema>.<short_name>``.

    Returns the registered version (with ``aliases`` set). Different ``seed`` values give
    different coefficients, so two versions score differently.
    """
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from finml import registry

    experiment_id = registry.configure(config, registry.ANOMALY_EXPERIMENT)
    data = synthetic_rows(rows, features, seed)
    x = data[list(features)].to_numpy(dtype=np.float64)
    classifier = LogisticRegression(C=0.5 + seed, max_iter=200).fit(x, data["label"])
    model = ThresholdClassifier(classifier, features, threshold)
    with mlflow.start_run(run_name=f"sample-anomaly-{seed}", experiment_id=experiment_id):
        pr_auc = _pr_auc(classifier, x, data["label"])
        mlflow.log_metrics({"pr_auc": pr_auc, "threshold": threshold})
        info = log_threshold_model(model, "model")
    name = registry.model_name(config, short_name)
    return registry.register(config, info.model_uri, name, aliases=aliases)


def log_threshold_model(model: ThresholdClassifier, name: str) -> Any:
    """Log ``model`` in the active run with the contract signature, its scikit-learn pin and
    FinML's code (it loads without FinML installed); returns MLflow's ``ModelInfo``."""
    import mlflow

    from finml.registry.packaging import model_code, pinned

    with model_code() as code:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=model,
            signature=contract_signature(model.features),
            pip_requirements=pinned(["scikit-learn"]),
            code_paths=code,
        )


def contract_signature(features: tuple[str, ...]) -> Any:
    """The anomaly-model signature: double feature inputs, ``score`` double and
    ``prediction`` long outputs."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("double", name) for name in features])
    outputs = Schema([ColSpec("double", "score"), ColSpec("long", "prediction")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _pr_auc(classifier: Any, x: np.ndarray, y: pd.Series) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, classifier.predict_proba(x)[:, 1]))
