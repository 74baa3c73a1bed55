"""A real MLflow store with the sample anomaly model (@champion), shared by the module's
tests; each test gets a fresh warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from finml.config import ProjectConfig


@pytest.fixture(scope="session")
def scoring_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finml.serving.sample_model import log_sample_model

    home = tmp_path_factory.mktemp("scoring_home")
    log_sample_model(ProjectConfig(home=home), seed=0, aliases=("champion",))
    return home


@pytest.fixture
def scoring_config(scoring_home: Path, tmp_path: Path) -> ProjectConfig:
    return ProjectConfig(home=scoring_home, warehouse=tmp_path / "warehouse")
