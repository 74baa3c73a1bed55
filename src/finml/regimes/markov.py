"""Markov-chain estimation from regime sequences: vectorised counting, additive smoothing,
bootstrap confidence intervals per transition, next-regime prediction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from finml.errors import DataError
from finml.regimes.analytics import ChainAnalytics, forecast

STATES = ("Normal", "Stress", "Crisis")


def count_transitions(
    states: np.ndarray, n_states: int, starts: np.ndarray | None = None
) -> np.ndarray:
    """Transition counts ``C[i, j]`` of an integer state sequence in one ``bincount``.

    ``starts`` marks positions that begin a new sequence (e.g. a new symbol): the pair
    ending there is not a transition. Raises :class:`DataError` on states outside
    ``0..n_states-1`` or a ``starts`` of another length.
    """
    s = np.asarray(states)
    if s.size and (s.min() < 0 or s.max() >= n_states):
        raise DataError(f"states: expected integers in 0..{n_states - 1}, got {s.min()}..{s.max()}")
    if s.size < 2:
        return np.zeros((n_states, n_states), dtype=np.int64)
    pairs = s[:-1].astype(np.int64) * n_states + s[1:]
    if starts is not None:
        starts = np.asarray(starts, dtype=bool)
        if starts.shape != s.shape:
            raise DataError(f"starts: expected shape {s.shape}, got {starts.shape}")
        pairs = pairs[~starts[1:]]
    return np.bincount(pairs, minlength=n_states * n_states).reshape(n_states, n_states)


def smoothed(counts: np.ndarray, alpha: float) -> np.ndarray:
    """``(C_ij + alpha) / (n_i + k alpha)``; a row never observed (and alpha 0) is uniform."""
    c = np.asarray(counts, dtype=float) + alpha
    totals = c.sum(axis=-1, keepdims=True)
    k = c.shape[-1]
    return np.divide(c, totals, out=np.full_like(c, 1.0 / k), where=totals > 0)


def bootstrap_intervals(
    counts: np.ndarray, alpha: float, draws: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each smoothed transition probability: the observed
    transitions out of each state are resampled with replacement (a multinomial with the
    row's total and its empirical frequencies), ``draws`` times, vectorised per row."""
    rng = np.random.default_rng(seed)
    k = counts.shape[0]
    samples = np.empty((draws, k, k))
    for i in range(k):  # k is 3: the loop is over states, the draws are vectorised
        total = int(counts[i].sum())
        freq = counts[i] / total if total else np.full(k, 1.0 / k)
        samples[:, i, :] = rng.multinomial(total, freq, size=draws)
    probs = smoothed(samples, alpha)
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(probs, tail, axis=0), np.percentile(probs, 100.0 - tail, axis=0)


@dataclass(frozen=True)
class MarkovChain:
    """A fitted chain: counts, smoothed matrix, bootstrap intervals and state names."""

    states: tuple[str, ...]
    counts: np.ndarray
    matrix: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    smoothing: float
    ci_level: float

    @classmethod
    def fit(
        cls,
        sequence: np.ndarray,
        starts: np.ndarray | None = None,
        *,
        states: tuple[str, ...] = STATES,
        smoothing: float = 0.5,
        bootstrap: int = 500,
        ci_level: float = 0.95,
        seed: int = 0,
    ) -> MarkovChain:
        """Fit from an integer state sequence (see :func:`count_transitions`)."""
        counts = count_transitions(sequence, len(states), starts)
        low, high = bootstrap_intervals(counts, smoothing, bootstrap, ci_level, seed)
        return cls(states, counts, smoothed(counts, smoothing), low, high, smoothing, ci_level)

    def index(self, state: str | int) -> int:
        if isinstance(state, (int, np.integer)) and 0 <= int(state) < len(self.states):
            return int(state)
        if state in self.states:
            return self.states.index(str(state))
        raise DataError(f"regime: expected one of {self.states}, got {state!r}")

    def analytics(self, target: str = "Crisis") -> ChainAnalytics:
        return ChainAnalytics.of(self.matrix, self.index(target))

    def predict_next(self, current: str | int, steps: int = 1) -> tuple[str, float, np.ndarray]:
        """The most likely regime ``steps`` periods after ``current``, its probability
        (the confidence) and the whole forecast distribution."""
        start = np.eye(len(self.states))[self.index(current)]
        dist = forecast(self.matrix, start, steps)
        best = int(np.argmax(dist))
        return self.states[best], float(dist[best]), dist

    def to_dict(self) -> dict[str, Any]:
        return {
            "states": list(self.states),
            "counts": self.counts.tolist(),
            "matrix": self.matrix.tolist(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "smoothing": self.smoothing,
            "ci_level": self.ci_level,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarkovChain:
        arrays = {k: np.asarray(data[k], dtype=float) for k in ("matrix", "ci_low", "ci_high")}
        return cls(
            tuple(data["states"]),
            np.asarray(data["counts"], dtype=np.int64),
            arrays["matrix"],
            arrays["ci_low"],
            arrays["ci_high"],
            float(data["smoothing"]),
            float(data["ci_level"]),
        )
