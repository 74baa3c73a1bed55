"""Fixtures of the training-plane integration tests: a real sqlite MLflow store and real
Delta tables (delta-rs) in a temp home, and small synthetic train/test sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.models.settings import ModelSettings, ValidationSettings

FAST = ModelSettings(
    n_jobs=1,
    candidates=("lightgbm", "xgboost", "ensemble"),
    params={"lightgbm": {"n_estimators": 40}, "xgboost": {"n_estimators": 40}},
    validation=ValidationSettings(floors={"pr_auc": 0.05}),
)


@pytest.fixture
def home(tmp_path: Path):
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig(home=tmp_path / "home")
    return config, DeltaTables.from_config(config, None)


@pytest.fixture
def fast() -> ModelSettings:
    return FAST


@pytest.fixture
def sets():
    """Helpers: ``sets.write(tables, train, test)`` and ``sets.degrade(frame, columns)``."""

    class Sets:
        write = staticmethod(_write_sets)
        degrade = staticmethod(_degrade)

    return Sets


def _write_sets(tables, train: pd.DataFrame, test: pd.DataFrame | None = None) -> None:
    tables.table("train_set").overwrite(pa.Table.from_pandas(train, preserve_index=False))
    if test is not None:
        tables.table("test_set").overwrite(pa.Table.from_pandas(test, preserve_index=False))


def _degrade(train: pd.DataFrame, columns: list[str], seed: int = 0) -> pd.DataFrame:
    """``train`` with ``columns`` shuffled: their signal is gone, the schema unchanged."""
    out = train.copy()
    rng = np.random.default_rng(seed)
    for column in columns:
        out[column] = rng.permutation(out[column].to_numpy())
    return out
