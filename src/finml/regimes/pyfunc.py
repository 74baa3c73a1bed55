"""The regime model as an MLflow pyfunc, logged with its analytics and registered.

``predict`` takes a DataFrame with a ``regime`` column (name or id) and an optional
``steps`` column (default 1) and returns ``next_regime``, ``confidence`` and the forecast
probability of each regime (``p_normal``, ``p_stress``, ``p_crisis``).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from finml.regimes.markov import MarkovChain

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.registry import VersionInfo


class RegimeModel(PythonModel):
    """Next-regime forecasts from a fitted :class:`MarkovChain` stored as JSON."""

    def load_context(self, context: Any) -> None:
        payload = json.loads(Path(context.artifacts["chain"]).read_text())
        self.chain = MarkovChain.from_dict(payload["chain"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        steps = model_input["steps"] if "steps" in model_input.columns else [1] * len(model_input)
        rows = []
        for regime, n in zip(model_input["regime"], steps, strict=True):
            name, confidence, dist = self.chain.predict_next(_state(regime), int(n))
            row = {"next_regime": name, "confidence": confidence}
            row.update(
                {f"p_{s.lower()}": float(p) for s, p in zip(self.chain.states, dist, strict=True)}
            )
            rows.append(row)
        return pd.DataFrame(rows)


def _state(value: Any) -> str | int:
    return int(value) if isinstance(value, (int, np.integer, float)) else str(value)


def log_regime_model(
    config: ProjectConfig,
    chain: MarkovChain,
    metrics: dict[str, float],
    analytics: dict[str, Any],
    params: dict[str, Any],
    aliases: tuple[str, ...],
    version_tags: dict[str, str] | None = None,
) -> VersionInfo:
    """Log ``chain`` as a pyfunc with ``metrics``/``params`` and an ``analytics.json``
    artifact, register it as ``<catalog>.<schema>.regime_model`` with ``aliases`` and the
    lineage tags plus ``version_tags`` on the version."""
    from finml import registry
    from finml.registry.packaging import model_code, pinned

    experiment_id = registry.configure(config, registry.REGIME_EXPERIMENT)
    name = registry.model_name(config, registry.REGIME_MODEL)
    tags = registry.lineage_tags(config)
    run = mlflow.start_run(run_name="regime_model", experiment_id=experiment_id)
    with tempfile.TemporaryDirectory() as tmp, run:
        chain_file = Path(tmp) / "chain.json"
        chain_file.write_text(json.dumps({"chain": chain.to_dict(), "analytics": analytics}))
        mlflow.set_tags(tags | registry.source_tags())
        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_dict(analytics, "analytics.json")
        example = pd.DataFrame({"regime": ["Normal"], "steps": [1]})
        with warnings.catch_warnings(), model_code() as code:
            # "steps" is an integer on purpose; MLflow's hint about missing values in
            # integer columns does not apply (it is never missing).
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            info = mlflow.pyfunc.log_model(
                name="regime_model",
                python_model=RegimeModel(),
                artifacts={"chain": str(chain_file)},
                pip_requirements=pinned(()),
                code_paths=code,
                input_example=example,
            )
        uri = info.model_uri or f"runs:/{run.info.run_id}/regime_model"
    return registry.register(config, uri, name, aliases=aliases, tags=tags | (version_tags or {}))
