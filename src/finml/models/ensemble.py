"""Weighted soft voting whose weights follow an exponentially weighted moving average (EWMA)
of each member's recent performance, with a per-member confidence.

Each piece of :class:`Evidence` is one member's PR-AUC on one walk-forward fold or one live
monitoring window (:func:`window_evidence`), with its *edge* over the members' mean on the
same rows and that edge's standard error. The error is paired: average precision is the mean,
over the positives, of the precision at each positive's rank, so the edge is the mean of
per-positive precision differences, and its error their standard deviation over
``sqrt(positives)``. Per member (:func:`member_weights`): the EWMA of its PR-AUCs (the
*level*), the EWMA of its edges and that average's variance (the EWMA coefficients squared
times each edge's variance), and a *confidence* ``tau^2 / (tau^2 + variance)`` -- the
empirical-Bayes reliability of the edge, where ``tau^2`` is the spread of the members'
edges beyond their noise. The weight is proportional to the members' mean level plus the
edge times its confidence: an edge resting on a few positives or a noisy history counts for
less, and members that cannot be told apart weigh the same. Evidence without an edge (a bare
PR-AUC) is taken as exact: confidence 1, weights proportional to the levels. A fold or
window with fewer than :data:`MIN_POSITIVES` positives adds no evidence.

In the tournament the members' walk-forward scores already exist, so the ensemble is
*composed* from them (:meth:`SoftVotingEnsemble.compose`) instead of refitting: on fold k it
uses weights from folds < k only (equal weights on the first fold), so its own fold metrics
see no future information. The registered ensemble adds the champion's live windows
(``ensemble_member_monitoring``) after the folds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from finml.models.base import AnomalyModel, candidate, registered

DEFAULT_MEMBERS = ("lightgbm", "xgboost", "random_forest")


@dataclass(frozen=True)
class Evidence:
    """One member's PR-AUC on one fold or window; ``edge`` over the members' mean PR-AUC on
    the same rows and its standard error ``edge_se`` (None: no paired information)."""

    pr_auc: float
    positives: int | None = None
    edge: float | None = None
    edge_se: float | None = None


@dataclass(frozen=True)
class MemberWeight:
    """A member's weight and where it came from (see the module docstring)."""

    level: float
    edge: float
    variance: float
    confidence: float
    weight: float
    windows: int


MIN_POSITIVES = 5  # fewer positives in a window: its PR-AUC says next to nothing


def window_evidence(
    y: np.ndarray, scores: Mapping[str, np.ndarray], min_positives: int = MIN_POSITIVES
) -> dict[str, Evidence]:
    """Each member's :class:`Evidence` on one fold or window: labels ``y`` (0/1) and each
    member's scores of the same rows. Empty when ``y`` holds fewer than ``min_positives``
    positives (at least 2) or no negative."""
    from sklearn.metrics import average_precision_score

    if min_positives < 2:
        raise ValueError(f"window_evidence: expected min_positives >= 2, got {min_positives}")
    y = np.asarray(y, dtype=np.int64)
    positives = int(y.sum())
    if not min_positives <= positives < y.size or not scores:
        return {}
    ap = {m: float(average_precision_score(y, s)) for m, s in scores.items()}
    per_positive = {m: _precision_at_positives(y, np.asarray(s)) for m, s in scores.items()}
    mean_ap = float(np.mean(list(ap.values())))
    mean_precision = np.mean(list(per_positive.values()), axis=0)
    out = {}
    for m in scores:
        diff = per_positive[m] - mean_precision
        se = float(np.std(diff, ddof=1)) / math.sqrt(positives)
        out[m] = Evidence(ap[m], positives, ap[m] - mean_ap, se)
    return out


def _precision_at_positives(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Precision at the rank of each positive (ranked by descending score; ties share the
    precision of their whole tie group, as average precision counts them), in row order of
    the positives."""
    order = np.argsort(-score, kind="mergesort")
    ranked_scores, ranked_y = score[order], y[order]
    last_of_group = np.r_[ranked_scores[1:] != ranked_scores[:-1], True]
    # for each rank, the rank of the last row of its tie group
    end = np.minimum.accumulate(np.where(last_of_group, np.arange(y.size), y.size)[::-1])[::-1]
    hits = np.cumsum(ranked_y)
    precision = hits[end] / (end + 1)
    at_rank = precision[ranked_y == 1]
    rows = order[ranked_y == 1]
    return at_rank[np.argsort(rows, kind="mergesort")]


def ewma(values: Sequence[float], alpha: float) -> float:
    """Exponentially weighted average of ``values`` (oldest first); recent values weigh
    ``alpha``. Raises ValueError on an empty sequence."""
    if not values:
        raise ValueError("ewma: expected at least one value, got none")
    level = float(values[0])
    for value in values[1:]:
        level = alpha * float(value) + (1.0 - alpha) * level
    return level


def ewma_coefficients(n: int, alpha: float) -> np.ndarray:
    """The weight :func:`ewma` gives each of ``n`` values (oldest first); they sum to 1."""
    if n < 1:
        raise ValueError(f"ewma_coefficients: expected at least one value, got {n}")
    head = [(1.0 - alpha) ** (n - 1)]
    tail = [alpha * (1.0 - alpha) ** (n - 1 - i) for i in range(1, n)]
    return np.array(head + tail)


def member_weights(
    evidence: Mapping[str, Sequence[Evidence | float]], alpha: float
) -> dict[str, MemberWeight]:
    """Weights of the members of ``evidence`` (each member's evidence oldest first; a bare
    float is a PR-AUC without an edge). Equal weights, confidence 0, when any member has no
    evidence yet or no weight is positive."""
    names = list(evidence)
    items = {n: [_as_evidence(e) for e in evidence[n]] for n in names}
    if not names:
        return {}
    if any(not items[n] for n in names):
        equal = 1.0 / len(names)
        return {n: MemberWeight(math.nan, 0.0, math.nan, 0.0, equal, len(items[n])) for n in names}
    coefficients = {n: ewma_coefficients(len(items[n]), alpha) for n in names}
    levels = {n: float(coefficients[n] @ [e.pr_auc for e in items[n]]) for n in names}
    mean = float(np.mean(list(levels.values())))
    paired = all(e.edge is not None and e.edge_se is not None for n in names for e in items[n])
    edges, variances = {}, {}
    for n in names:
        c = coefficients[n]
        if paired:
            edges[n] = float(c @ np.array([e.edge for e in items[n]], dtype=np.float64))
            se = np.array([e.edge_se for e in items[n]], dtype=np.float64)
            variances[n] = float((c**2) @ (se**2))
        else:
            edges[n], variances[n] = levels[n] - mean, 0.0
    spread = float(np.var(list(edges.values()), ddof=1)) if len(names) > 1 else 0.0
    tau2 = max(spread - float(np.mean(list(variances.values()))), 0.0)
    confidence = {n: 1.0 if variances[n] == 0 else tau2 / (tau2 + variances[n]) for n in names}
    raw = np.array([max(mean + confidence[n] * edges[n], 0.0) for n in names])
    weights = raw / raw.sum() if raw.sum() > 0 else np.full(len(names), 1.0 / len(names))
    return {
        n: MemberWeight(levels[n], edges[n], variances[n], confidence[n], float(w), len(items[n]))
        for n, w in zip(names, weights, strict=True)
    }


def ewma_weights(
    history: Mapping[str, Sequence[Evidence | float]], alpha: float
) -> dict[str, float]:
    """The normalised weights of :func:`member_weights`."""
    return {n: w.weight for n, w in member_weights(history, alpha).items()}


def _as_evidence(value: Evidence | float) -> Evidence:
    return value if isinstance(value, Evidence) else Evidence(float(value))


@candidate("ensemble")
class SoftVotingEnsemble(AnomalyModel):
    """Weighted mean of member probabilities. ``params``: ``members`` (candidate names) and
    ``alpha`` (EWMA smoothing)."""

    default_params = {"members": list(DEFAULT_MEMBERS), "alpha": 0.5}
    composite = True

    def __init__(self, params=None, *, seed: int = 42, n_jobs: int = 2):
        super().__init__(params, seed=seed, n_jobs=n_jobs)
        self.members: dict[str, AnomalyModel] = {}
        self.weights: dict[str, float] = {}

    @classmethod
    def compose(
        cls,
        members: Mapping[str, AnomalyModel],
        history: Mapping[str, Sequence[Evidence | float]],
        *,
        alpha: float,
        seed: int = 42,
    ) -> SoftVotingEnsemble:
        """An ensemble of already-fitted ``members`` weighted by :func:`member_weights` of
        ``history`` (each member's evidence, oldest first)."""
        ensemble = cls({"members": list(members), "alpha": alpha}, seed=seed)
        ensemble.members = dict(members)
        ensemble.weights = ewma_weights({n: history.get(n, []) for n in members}, alpha)
        first = next(iter(members.values()))
        ensemble.features = first.features
        return ensemble

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        # Standalone fit: members fitted on all rows, equal weights (no history yet). The
        # ensemble is built through finml.models.roster, which has registered every member.
        self.members = {
            name: registered(name)(None, seed=self.seed, n_jobs=self.n_jobs).fit(
                X, y, self.features
            )
            for name in self.params["members"]
        }
        self.weights = {n: 1.0 / len(self.members) for n in self.members}

    def score(self, X: np.ndarray) -> np.ndarray:
        return combine({n: m.score(X) for n, m in self.members.items()}, self.weights)

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        return combine({n: m.score_rows(X) for n, m in self.members.items()}, self.weights)


def combine(scores: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of member scores (weights need not be normalised)."""
    total = sum(weights[n] for n in scores)
    return sum(scores[n] * (weights[n] / total) for n in scores)  # type: ignore[return-value]
