"""The tournament: identical leaderboards for the same seed; the baseline never wins."""

from __future__ import annotations

import pandas as pd
import pytest

from finml.models.data import split_from_frame
from finml.models.settings import ModelSettings
from finml.models.synthetic import train_test

SETTINGS = ModelSettings(
    n_jobs=1,
    candidates=("lightgbm", "xgboost", "random_forest", "isolation_forest", "ensemble"),
    params={
        "lightgbm": {"n_estimators": 40},
        "xgboost": {"n_estimators": 40},
        "random_forest": {"n_estimators": 30},
    },
)
TIMES = ["fit_seconds", "predict_seconds"]


@pytest.fixture(scope="module")
def splits():
    train, test = train_test(3000, seed=2)
    return split_from_frame(train, "train_set"), split_from_frame(test, "test_set")


def test_same_seed_gives_an_identical_leaderboard(splits) -> None:
    from finml.models.tournament import run_tournament

    first = run_tournament(*splits, SETTINGS).leaderboard().drop(columns=TIMES)
    second = run_tournament(*splits, SETTINGS).leaderboard().drop(columns=TIMES)
    pd.testing.assert_frame_equal(first, second)
    assert list(first["candidate"]).count("zscore_rule") == 1
    assert first.iloc[0]["candidate"] != "zscore_rule"
    assert first["cv_pr_auc"].iloc[:-1].is_monotonic_decreasing or first.iloc[-1]["is_baseline"]


def test_ensemble_weights_follow_member_performance(splits) -> None:
    from finml.models.tournament import run_tournament

    result = run_tournament(*splits, SETTINGS)
    ensemble = next(r for r in result.results if r.name == "ensemble")
    weights = ensemble.params["weights"]
    assert set(weights) == {"lightgbm", "xgboost", "random_forest"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert len(ensemble.history["lightgbm"]) == SETTINGS.folds
    best = max(ensemble.history, key=lambda m: ensemble.history[m][-1])
    assert weights[best] == max(weights.values()) or len(set(weights.values())) > 1
    winner = result.winner
    assert winner.model is not None and winner.holdout["pr_auc"] > result.baseline.holdout["pr_auc"]
