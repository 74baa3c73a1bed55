"""Every registered candidate: fits, scores in [0, 1], is reproducible, beats chance."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import ConfigError
from finml.models.base import AnomalyModel, Preprocessor, candidate
from finml.models.metrics import pr_auc
from finml.models.roster import build, candidates
from finml.models.synthetic import train_test

FAST = {"n_estimators": 30}


@pytest.fixture(scope="module")
def data():
    train, test = train_test(3000, seed=3)
    prep = Preprocessor(tuple(c for c in train.columns if c.startswith("f"))).fit(train)
    return prep.transform(train), train["label"].to_numpy(), prep.transform(test), test["label"]


@pytest.mark.parametrize("name", sorted(set(candidates()) - {"ensemble"}))
def test_candidate_scores_are_probabilities_and_reproducible(name: str, data) -> None:
    X, y, X_test, y_test = data
    first = build(name, FAST if name != "zscore_rule" else {}, seed=5, n_jobs=1).fit(X, y)
    second = build(name, FAST if name != "zscore_rule" else {}, seed=5, n_jobs=1).fit(X, y)
    scores = first.score(X_test)
    assert scores.shape == (len(X_test),)
    assert np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_array_equal(scores, second.score(X_test))
    assert pr_auc(y_test.to_numpy(), scores) > 3 * y_test.mean()  # far better than chance


def test_isolation_forest_scores_are_calibrated_probabilities_with_its_own_ranking(data) -> None:
    from finml.models.metrics import expected_calibration_error

    X, y, X_test, y_test = data
    forest = build("isolation_forest", FAST, seed=5, n_jobs=1).fit(X, y)
    raw = -forest.model.score_samples(X_test)
    scores = forest.score(X_test)
    # Platt scaling is monotone: the forest's ranking, hence its PR-AUC, is kept
    assert np.array_equal(np.argsort(raw, kind="stable"), np.argsort(scores, kind="stable"))
    assert pr_auc(y_test.to_numpy(), scores) == pytest.approx(pr_auc(y_test.to_numpy(), raw))
    # probabilities, not ranks: the mean score is near the anomaly rate and well calibrated
    assert abs(scores.mean() - y_test.mean()) < 0.03, (scores.mean(), y_test.mean())
    ranks = build("isolation_forest", FAST, seed=5, n_jobs=1).fit(X, np.zeros_like(y))
    assert forest.platt is not None and ranks.platt is None  # one class: empirical CDF
    cdf = ranks.score(X_test)
    assert abs(cdf.mean() - 0.5) < 0.1  # a rank is uniform-ish, whatever the anomaly rate
    calibrated = expected_calibration_error(y_test.to_numpy(), scores)
    assert calibrated < 0.5 * expected_calibration_error(y_test.to_numpy(), cdf)
    np.testing.assert_allclose(forest.score_rows(X_test), scores, rtol=1e-12)


def test_standalone_ensemble_averages_its_members(data) -> None:
    X, y, X_test, _ = data
    params = {"members": ["lightgbm", "xgboost"], "alpha": 0.5}
    ensemble = build("ensemble", params, seed=1, n_jobs=1).fit(X, y)
    members = [ensemble.members[m].score(X_test) for m in params["members"]]
    np.testing.assert_allclose(ensemble.score(X_test), np.mean(members, axis=0))


def test_adding_a_candidate_is_one_class(data) -> None:
    @candidate("test_mean_rule")
    class MeanRule(AnomalyModel):
        supervised = False

        def _fit(self, X, y):
            self.mu = X.mean(axis=0)

        def score(self, X):
            d = np.abs(X - self.mu).sum(axis=1)
            return d / (1 + d)

    assert candidates()["test_mean_rule"] is MeanRule
    assert build("test_mean_rule", seed=0, n_jobs=1).fit(*data[:2]).score(data[2]).max() < 1


def test_unknown_candidate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"expected names from \[.*lightgbm.*\], got 'catboost'"):
        build("catboost", seed=0, n_jobs=1)


def test_preprocessor_imputes_nan_and_inf_with_training_medians(data) -> None:
    import pandas as pd

    prep = Preprocessor(("a", "b")).fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.inf, 5, 7]}))
    out = prep.transform(pd.DataFrame({"a": [np.nan], "b": [-np.inf], "extra": ["x"]}))
    np.testing.assert_array_equal(out, [[2.0, 6.0]])
