"""Metrics: the fast weighted PR-AUC equals scikit-learn's; thresholds and EWMA weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from finml.models.ensemble import ewma, ewma_weights
from finml.models.metrics import (
    MetricSettings,
    RankedScores,
    best_f1_threshold,
    evaluate,
    precision_at_k,
    recall_at_fpr,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 6), st.integers(0, 3)), min_size=2, max_size=60
    )
)
def test_weighted_average_precision_matches_sklearn_with_ties(rows) -> None:
    y = np.array([r[0] for r in rows])
    scores = np.array([r[1] / 6 for r in rows])  # few distinct values: many ties
    weights = np.array([r[2] for r in rows], dtype=float)
    if (weights * y).sum() == 0:
        assert np.isnan(RankedScores(y, scores).average_precision(weights))
        return
    expected = average_precision_score(y, scores, sample_weight=weights)
    assert RankedScores(y, scores).average_precision(weights) == pytest.approx(expected, abs=1e-12)


def test_best_f1_threshold_separates_a_clean_split() -> None:
    y = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    threshold = best_f1_threshold(y, scores)
    assert 0.3 < threshold <= 0.8
    assert evaluate(y, scores, threshold, MetricSettings(k=2))["f1"] == 1.0


def test_precision_at_k_and_recall_at_fpr() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert precision_at_k(y, scores, 2) == 0.5
    assert recall_at_fpr(y, scores, 0.0) == 0.5  # only the 0.9 row is above every negative
    assert recall_at_fpr(y, scores, 0.125) == 1.0


def test_ewma_weights_favour_recent_performance() -> None:
    assert ewma([0.2, 0.8], alpha=0.5) == pytest.approx(0.5)
    weights = ewma_weights({"old_star": [0.9, 0.5, 0.2], "rising": [0.2, 0.5, 0.9]}, alpha=0.6)
    assert weights["rising"] > weights["old_star"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert ewma_weights({"a": [], "b": []}, 0.5) == {"a": 0.5, "b": 0.5}
