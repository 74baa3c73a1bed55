"""Optuna tuning stays inside its trial budget and returns parameters from the search space."""

from __future__ import annotations

from finml.models.data import split_from_frame, walk_forward_folds
from finml.models.settings import ModelSettings, TuningSettings
from finml.models.synthetic import train_test


def test_tuning_returns_params_within_the_space() -> None:
    from finml.models.tournament import fold_scores
    from finml.models.tuning import tune

    train = split_from_frame(train_test(1500, seed=3)[0], "train_set")
    settings = ModelSettings(
        n_jobs=1,
        params={"xgboost": {"n_estimators": 20}},
        tuning=TuningSettings(enabled=True, trials=2, timeout_seconds=60, candidates=("xgboost",)),
    )
    folds = walk_forward_folds(train.frame["ts"], 2)
    params = tune("xgboost", train, folds, settings, fold_scores=fold_scores)
    assert 3 <= params["max_depth"] <= 10 and 0.01 <= params["learning_rate"] <= 0.3
    assert 100 <= params["n_estimators"] <= 400  # the search space overrides the base value
