"""Tournament metrics on (labels, scores): PR-AUC (primary), ROC-AUC, F1 at the chosen
threshold, precision@k, recall at a fixed false-positive rate, Brier, calibration error.

PR-AUC is computed by :class:`RankedScores`, which sorts once and then evaluates average
precision for any row weighting in O(n) — that is what makes a 500-resample paired bootstrap
on a 50k-row holdout take about a second. It equals ``sklearn.metrics.average_precision_score``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finml.models.settings import RANKING_METRICS

HIGHER_IS_BETTER = {"pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr"}


class RankedScores:
    """Labels and scores sorted once by score, for fast (weighted) average precision."""

    def __init__(self, y: np.ndarray, scores: np.ndarray) -> None:
        self.order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
        ranked = np.asarray(scores, dtype=np.float64)[self.order]
        self.y = np.asarray(y, dtype=np.float64)[self.order]
        # last position of each run of tied scores: one PR point per distinct threshold
        self.ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]

    def average_precision(self, weights: np.ndarray | None = None) -> float:
        """AP = Σ (R_n - R_{n-1}) P_n; ``weights`` are per-row in the original order."""
        w = np.ones_like(self.y) if weights is None else np.asarray(weights, float)[self.order]
        tp = np.cumsum(w * self.y)[self.ends]
        fp = np.cumsum(w * (1.0 - self.y))[self.ends]
        positives = tp[-1] if len(tp) else 0.0
        if positives <= 0:
            return float("nan")
        predicted = tp + fp
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = tp / positives
        return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def pr_auc(y: np.ndarray, scores: np.ndarray) -> float:
    return RankedScores(y, scores).average_precision()


def best_f1_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold maximising F1 (ties: the highest threshold); 0.5 without positives."""
    from sklearn.metrics import precision_recall_curve

    if np.sum(y) == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )[:-1]
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best])


def precision_at_k(y: np.ndarray, scores: np.ndarray, k: int) -> float:
    top = np.argsort(-scores, kind="mergesort")[: min(k, len(scores))]
    return float(np.mean(y[top])) if len(top) else float("nan")


def recall_at_fpr(y: np.ndarray, scores: np.ndarray, max_fpr: float) -> float:
    """Best recall among thresholds whose false-positive rate is at most ``max_fpr``."""
    from sklearn.metrics import roc_curve

    if np.sum(y) == 0 or np.sum(y) == len(y):
        return float("nan")
    fpr, tpr, _ = roc_curve(y, scores)
    return float(tpr[fpr <= max_fpr].max())


def expected_calibration_error(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Σ_bins |mean score - positive rate| x share of rows, equal-width bins on [0, 1]."""
    index = np.minimum((np.asarray(scores) * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(index):
        mask = index == b
        total += abs(scores[mask].mean() - y[mask].mean()) * mask.mean()
    return float(total)


@dataclass(frozen=True)
class MetricSettings:
    k: int = 100
    max_fpr: float = 0.01


def ranking_metric(
    metric: str, y: np.ndarray, scores: np.ndarray, settings: MetricSettings
) -> float:
    """One of :data:`RANKING_METRICS` (a function of the scores' order alone, so two
    models compare without their thresholds); NaN when ``y`` has one class."""
    from sklearn.metrics import roc_auc_score

    if not 0 < y.sum() < len(y):
        return float("nan")
    if metric == "pr_auc":
        return RankedScores(y, scores).average_precision()
    if metric == "roc_auc":
        return float(roc_auc_score(y, scores))
    if metric == "precision_at_k":
        return precision_at_k(y, scores, settings.k)
    if metric == "recall_at_fpr":
        return recall_at_fpr(y, scores, settings.max_fpr)
    raise ValueError(f"expected a ranking metric from {RANKING_METRICS}, got {metric!r}")


def evaluate(
    y: np.ndarray, scores: np.ndarray, threshold: float, settings: MetricSettings
) -> dict[str, float]:
    """Every tournament metric of ``scores`` against 0/1 labels ``y``."""
    from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    both = 0 < y.sum() < len(y)
    return {
        "pr_auc": pr_auc(y, scores) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "f1": float(f1_score(y, (scores >= threshold).astype(int), zero_division=0)),
        "precision_at_k": precision_at_k(y, scores, settings.k),
        "recall_at_fpr": recall_at_fpr(y, scores, settings.max_fpr),
        "brier": float(brier_score_loss(y, scores)),
        "ece": expected_calibration_error(y, scores),
    }
