"""Permutation feature importance and the thinned PR curve of a registered model."""

from __future__ import annotations

import numpy as np
import pytest

from finml.models.data import split_from_frame
from finml.models.explain import importance_rows, permutation_importance, pr_curve
from finml.models.synthetic import trained_ensemble


@pytest.fixture(scope="module")
def ensemble():
    model, test = trained_ensemble(4000, members=("lightgbm", "random_forest"))
    return model, split_from_frame(test, "test_set")


def test_the_features_that_carry_the_anomalies_rank_first(ensemble) -> None:
    # the simulator shifts f0 (price jump), f1 (volume) and f2 (spread) on anomalies; the
    # other features are noise
    model, test = ensemble
    found = permutation_importance(model, test, repeats=3)
    assert list(found.columns) == ["feature", "importance", "importance_std", "rank", "method"]
    assert set(found["feature"]) == set(model.features)
    assert found["rank"].tolist() == list(range(1, len(model.features) + 1))
    assert found.iloc[0]["feature"] == "f0"
    assert set(found.head(3)["feature"]) >= {"f0", "f1"}
    noise = found[found["feature"].isin(["f4", "f5", "f6", "f7", "session"])]
    assert noise["importance"].abs().max() < 0.05 < found.iloc[0]["importance"]
    assert (found["importance_std"] >= 0).all() and (found["method"] == "permutation_pr_auc").all()
    # seeded: the same numbers again
    again = permutation_importance(model, test, repeats=3)
    assert again["importance"].tolist() == found["importance"].tolist()


def test_without_a_positive_there_is_no_importance(ensemble) -> None:
    model, test = ensemble
    negatives = split_from_frame(test.frame[test.frame["label"] == 0], "test_set")
    assert permutation_importance(model, negatives).empty


def test_importance_rows_keep_every_positive_and_sample_the_rest() -> None:
    y = np.zeros(1000, dtype=np.int64)
    y[[3, 500, 999]] = 1
    chosen = importance_rows(y, limit=100, seed=1)
    assert len(chosen) == 100 and {3, 500, 999} <= set(chosen.tolist())
    assert (np.diff(chosen) > 0).all()
    assert importance_rows(y, limit=2000).tolist() == list(range(1000))


def test_pr_curve_by_hand_and_thinned() -> None:
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    curve = pr_curve(y, scores)
    # falling threshold: 0.9 -> P 1, R .5; 0.8 -> P .5, R .5; 0.7 -> P 2/3, R 1; 0.1 -> P .5, R 1
    assert curve["threshold"].tolist() == [0.9, 0.8, 0.7, 0.1]
    assert curve["precision"].tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert curve["recall"].tolist() == [0.5, 0.5, 1.0, 1.0]
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    scores = rng.random(5000) + y
    thin = pr_curve(y, scores, points=50)
    assert len(thin) <= 52 and thin["recall"].is_monotonic_increasing
    assert thin["recall"].iloc[-1] == 1.0 and thin["threshold"].is_monotonic_decreasing
    assert pr_curve(np.zeros(3), np.ones(3)).empty
