"""Metrics: the fast weighted PR-AUC equals scikit-learn's; thresholds and EWMA weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from finml.models.ensemble import (
    Evidence,
    ewma,
    ewma_coefficients,
    ewma_weights,
    member_weights,
    window_evidence,
)
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


def test_window_evidence_is_average_precision_with_a_paired_edge() -> None:
    from sklearn.metrics import average_precision_score

    y = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    a = np.array([0.9, 0.8, 0.7, 0.2, 0.2, 0.6, 0.1, 0.3])  # positives at ranks 1, 3, 4
    b = np.array([0.9, 0.95, 0.1, 0.2, 0.2, 0.6, 0.1, 0.3])  # ranks 2, 7-8 (a tie), 3
    evidence = window_evidence(y, {"a": a, "b": b}, min_positives=3)
    # precision at each positive (rows 0, 2, 5): a (1, 2/3, 3/4); b (1/2, 3/8 at the end of
    # the 0.1 tie, 2/3)
    pa, pb = np.array([1, 2 / 3, 3 / 4]), np.array([1 / 2, 3 / 8, 2 / 3])
    assert evidence["a"].pr_auc == pytest.approx(average_precision_score(y, a))
    assert evidence["b"].pr_auc == pytest.approx(average_precision_score(y, b))
    assert evidence["b"].pr_auc == pytest.approx(pb.mean())
    assert evidence["a"].edge == pytest.approx((pa.mean() - pb.mean()) / 2)
    assert evidence["a"].edge == pytest.approx(-evidence["b"].edge)
    diff = (pa - pb) / 2  # member a minus the members' mean, per positive
    assert evidence["a"].edge_se == pytest.approx(np.std(diff, ddof=1) / np.sqrt(3))
    assert evidence["a"].positives == 3
    assert window_evidence(np.zeros(4, int), {"a": a[:4]}) == {}  # one class: no evidence
    assert window_evidence(y, {"a": a, "b": b}) == {}  # 3 positives < the default 5
    with pytest.raises(ValueError, match="min_positives >= 2"):
        window_evidence(y, {"a": a}, min_positives=1)


def test_member_weights_trust_an_edge_by_its_noise() -> None:
    # bare PR-AUCs carry no noise: weights proportional to the EWMA levels
    bare = member_weights({"a": [0.6, 0.8], "b": [0.4, 0.4]}, alpha=0.5)
    assert ewma_coefficients(2, 0.5) == pytest.approx([0.5, 0.5])
    assert bare["a"].weight == pytest.approx(0.7 / 1.1) and bare["a"].confidence == 1.0

    # the same edge measured precisely is trusted; measured on noise it is not
    def paired(se_a: float, se_b: float) -> dict:
        return member_weights(
            {"a": [Evidence(0.8, 50, 0.1, se_a)] * 3, "b": [Evidence(0.6, 50, -0.1, se_b)] * 3},
            alpha=0.5,
        )

    precise, noisy, mixed = paired(0.001, 0.001), paired(0.5, 0.5), paired(0.001, 0.2)
    assert precise["a"].confidence > 0.99 and precise["a"].weight == pytest.approx(0.8 / 1.4, 1e-3)
    assert noisy["a"].confidence == 0.0 and noisy["a"].weight == pytest.approx(0.5)
    assert mixed["a"].confidence > mixed["b"].confidence  # per-member confidence
    # variance of an EWMA of 3 windows: sum of squared coefficients times se^2
    c = ewma_coefficients(3, 0.5)
    assert mixed["b"].variance == pytest.approx(float((c**2).sum()) * 0.2**2)
    assert sum(w.weight for w in mixed.values()) == pytest.approx(1.0)
    # a member without evidence yet: equal weights, no confidence
    assert {n: w.weight for n, w in member_weights({"a": [0.9], "b": []}, 0.5).items()} == {
        "a": 0.5,
        "b": 0.5,
    }
