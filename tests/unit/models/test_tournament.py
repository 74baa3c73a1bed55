"""The tournament: identical leaderboards for the same seed; the baseline never wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.models.data import split_from_frame, walk_forward_folds
from finml.models.ensemble import Evidence, ewma, member_weights
from finml.models.metrics import MetricSettings, evaluate
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
    assert list(first["rank"]) == list(range(1, len(first) + 1))
    assert set(first["candidate"]) == {*SETTINGS.candidates, "zscore_rule"}
    # the baseline is ranked last whatever its score; the rest by walk-forward PR-AUC, best first
    assert first["is_baseline"].tolist() == [False] * (len(first) - 1) + [True]
    assert first.iloc[-1]["candidate"] == "zscore_rule"
    contenders = first.iloc[:-1]
    assert contenders["cv_pr_auc"].is_monotonic_decreasing
    assert contenders["cv_pr_auc"].iloc[0] > contenders["cv_pr_auc"].iloc[-1]


def test_ensemble_weights_follow_member_performance(splits) -> None:
    from finml.models.tournament import run_tournament

    result = run_tournament(*splits, SETTINGS)
    ensemble = next(r for r in result.results if r.name == "ensemble")
    weights = ensemble.params["weights"]
    assert set(weights) == {"lightgbm", "xgboost", "random_forest"}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert len(ensemble.history["lightgbm"]) == SETTINGS.folds
    folds = walk_forward_folds(splits[0].frame["ts"], SETTINGS.folds)
    members = {r.name: r for r in result.results if r.name in weights}
    for name, member in members.items():  # history: each member's PR-AUC on each fold
        expected = [
            evaluate(splits[0].y[valid], member.fold_scores[k], 0.5, MetricSettings())["pr_auc"]
            for k, (_, valid) in enumerate(folds)
        ]
        assert ensemble.history[name] == pytest.approx(expected)
    # weights from each member's fold evidence (its PR-AUC is that history), the better
    # member weighing more
    for name in weights:
        assert [e.pr_auc for e in ensemble.evidence[name]] == pytest.approx(ensemble.history[name])
    expected = member_weights(ensemble.evidence, SETTINGS.ewma_alpha)
    assert weights == pytest.approx({m: w.weight for m, w in expected.items()})
    assert ensemble.params["confidence"] == pytest.approx(
        {m: w.confidence for m, w in expected.items()}, abs=1e-4
    )
    assert ensemble.params["live_windows"] == 0
    levels = {m: ewma(ensemble.history[m], SETTINGS.ewma_alpha) for m in weights}
    assert sorted(weights, key=weights.__getitem__) == sorted(levels, key=levels.__getitem__)
    assert len(set(weights.values())) == len(weights)  # the members are told apart
    # fold 1 uses equal weights: no fold's weights may see that fold's labels
    first_fold = np.mean([members[m].fold_scores[0] for m in weights], axis=0)
    np.testing.assert_allclose(ensemble.fold_scores[0], first_fold)
    winner = result.winner
    assert winner.model is not None and winner.holdout["pr_auc"] > result.baseline.holdout["pr_auc"]


def test_live_evidence_moves_the_ensemble_weights(splits) -> None:
    """Live windows where random_forest beats the others on many positives, after the
    folds, raise its weight over the folds-only ensemble; the holdout scores follow."""
    from finml.models.tournament import run_tournament

    settings = SETTINGS.model_copy(update={"candidates": ("lightgbm", "random_forest", "ensemble")})
    folds_only = run_tournament(*splits, settings)
    window = {"lightgbm": Evidence(0.70, 400, -0.10, 0.01),
              "random_forest": Evidence(0.90, 400, 0.10, 0.01)}  # fmt: skip
    live = {m: [window[m]] * 4 for m in window}
    with_live = run_tournament(*splits, settings, live=live)

    def ensemble(result):
        return next(r for r in result.results if r.name == "ensemble")

    before, after = ensemble(folds_only).params, ensemble(with_live).params
    assert after["live_windows"] == 4 and before["live_windows"] == 0
    assert after["weights"]["random_forest"] > before["weights"]["random_forest"] + 0.05
    assert after["weights"]["random_forest"] > after["weights"]["lightgbm"]
    assert after["confidence"]["random_forest"] > 0.9  # a clear, well-measured edge
    assert not np.allclose(ensemble(folds_only).holdout_scores, ensemble(with_live).holdout_scores)
