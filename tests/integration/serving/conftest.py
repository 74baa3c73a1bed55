"""Serving fixtures: one real MLflow store (sqlite) with real sample models and a real
ensemble champion (LightGBM, XGBoost, random forest, isolation forest) logged as the
tournament logs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import CHALLENGER_SEED, CHAMPION_SEED, ENSEMBLE_MODEL

from finml.config import ProjectConfig


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store holding ``anomaly_model`` v1 (@champion) and v2 (@challenger)."""
    from finml.serving.sample_model import log_sample_model

    home = tmp_path_factory.mktemp("serving_home")
    config = ProjectConfig(home=home)
    log_sample_model(config, seed=CHAMPION_SEED, aliases=("champion",))
    log_sample_model(config, seed=CHALLENGER_SEED, aliases=("challenger",))
    return home


@pytest.fixture(scope="session")
def ensemble_home(model_home: Path) -> Path:
    """The same store, plus ``ensemble_model`` v1 (@champion): a real four-member ensemble
    pyfunc logged with ``log_pyfunc``. Its test rows are in ``ensemble_rows.parquet``."""
    import mlflow

    from finml import registry
    from finml.models.pyfunc import log_pyfunc
    from finml.models.synthetic import trained_ensemble

    config = ProjectConfig(home=model_home)
    registry.configure(config)
    pyfunc, test = trained_ensemble(4000, seed=7)
    with mlflow.start_run(run_name="ensemble"):
        info = log_pyfunc(pyfunc, test)
    name = registry.model_name(config, ENSEMBLE_MODEL)
    registry.register(config, info.model_uri, name, aliases=("champion",))
    test[list(pyfunc.features)].to_parquet(model_home / "ensemble_rows.parquet")
    return model_home


@pytest.fixture
def serving_config(model_home: Path, tmp_path: Path) -> ProjectConfig:
    """The shared model store with a fresh warehouse (so each test has its own log)."""
    return ProjectConfig(home=model_home, warehouse=tmp_path / "warehouse")
