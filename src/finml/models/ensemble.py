"""Weighted soft voting whose weights follow an exponentially weighted moving average (EWMA)
of each member's recent performance.

In the tournament the members' walk-forward scores already exist, so the ensemble is
*composed* from them (:meth:`SoftVotingEnsemble.compose`) instead of refitting: on fold k it
uses weights from folds < k only (equal weights on the first fold), so its own fold metrics
see no future information.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from finml.models.base import AnomalyModel, candidate, registered

DEFAULT_MEMBERS = ("lightgbm", "xgboost", "random_forest")


def ewma(values: Sequence[float], alpha: float) -> float:
    """Exponentially weighted average of ``values`` (oldest first); recent values weigh
    ``alpha``. Raises ValueError on an empty sequence."""
    if not values:
        raise ValueError("ewma: expected at least one value, got none")
    level = float(values[0])
    for value in values[1:]:
        level = alpha * float(value) + (1.0 - alpha) * level
    return level


def ewma_weights(history: Mapping[str, Sequence[float]], alpha: float) -> dict[str, float]:
    """Normalised weights ∝ EWMA of each member's per-fold metric; equal when no history."""
    names = list(history)
    if not names:
        return {}
    if any(len(history[n]) == 0 for n in names):
        return {n: 1.0 / len(names) for n in names}
    levels = np.array([max(ewma(history[n], alpha), 0.0) for n in names])
    if levels.sum() <= 0:
        return {n: 1.0 / len(names) for n in names}
    return dict(zip(names, (levels / levels.sum()).tolist(), strict=True))


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
        history: Mapping[str, Sequence[float]],
        *,
        alpha: float,
        seed: int = 42,
    ) -> SoftVotingEnsemble:
        """An ensemble of already-fitted ``members`` weighted by the EWMA of ``history``."""
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
        self.weights = ewma_weights({n: [] for n in self.members}, self.params["alpha"])

    def score(self, X: np.ndarray) -> np.ndarray:
        return combine({n: m.score(X) for n, m in self.members.items()}, self.weights)

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        return combine({n: m.score_rows(X) for n, m in self.members.items()}, self.weights)


def combine(scores: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of member scores (weights need not be normalised)."""
    total = sum(weights[n] for n in scores)
    return sum(scores[n] * (weights[n] / total) for n in scores)  # type: ignore[return-value]
