"""Serving fixtures: one real MLflow store (sqlite) with real sample models."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import CHALLENGER_SEED, CHAMPION_SEED

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


@pytest.fixture
def serving_config(model_home: Path, tmp_path: Path) -> ProjectConfig:
    """The shared model store with a fresh warehouse (so each test has its own log)."""
    return ProjectConfig(home=model_home, warehouse=tmp_path / "warehouse")
