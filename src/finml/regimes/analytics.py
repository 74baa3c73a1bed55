"""Markov-chain analytics on a row-stochastic transition matrix (pure numpy).

Stationary distribution from the left eigenvector of eigenvalue 1; spectral gap
``1 - |lambda_2|`` (how fast the chain forgets its start); expected sojourn ``1 / (1 - P_ii)``;
mean first-passage times from the fundamental matrix ``Z = (I - P + 1 pi)^-1`` (Kemeny &
Snell): ``M_ij = (Z_jj - Z_ij) / pi_j`` and mean recurrence ``M_ii = 1 / pi_i``; n-step
forecasts ``p P^n``; and the absorbing variant where a target state absorbs: expected steps
to absorption ``t = (I - Q)^-1 1`` over the transient block ``Q``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finml.errors import DataError


def check_stochastic(matrix: np.ndarray, name: str = "transition matrix") -> np.ndarray:
    """``matrix`` as a float array after checking it is square, non-negative, rows sum to 1.

    Raises:
        DataError: naming what is wrong.
    """
    p = np.asarray(matrix, dtype=float)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 1:
        raise DataError(f"{name}: expected a square matrix, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise DataError(f"{name}: expected finite non-negative entries, got {p.tolist()}")
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-9):
        raise DataError(f"{name}: expected rows summing to 1, got {sums.round(9).tolist()}")
    return p


def stationary(p: np.ndarray) -> np.ndarray:
    """The stationary distribution (left eigenvector of eigenvalue 1, normalised to sum 1)."""
    p = check_stochastic(p)
    values, vectors = np.linalg.eig(p.T)
    k = int(np.argmin(np.abs(values - 1.0)))
    pi = np.real(vectors[:, k])
    return pi / pi.sum()


def eigenvalues(p: np.ndarray) -> np.ndarray:
    """Eigenvalues sorted by decreasing modulus (complex dtype)."""
    values = np.linalg.eigvals(check_stochastic(p))
    return values[np.argsort(-np.abs(values), kind="stable")]


def spectral_gap(p: np.ndarray) -> float:
    """``1 - |lambda_2|``; 0 for a 1-state chain would be undefined, so it returns 1."""
    values = eigenvalues(p)
    return 1.0 if values.size < 2 else float(1.0 - np.abs(values[1]))


def sojourn_times(p: np.ndarray) -> np.ndarray:
    """Expected consecutive periods in each state, ``1 / (1 - P_ii)`` (inf if absorbing)."""
    stay = np.diag(check_stochastic(p))
    with np.errstate(divide="ignore"):
        return np.where(stay < 1.0, 1.0 / (1.0 - stay), np.inf)


def first_passage_times(p: np.ndarray) -> np.ndarray:
    """Mean first-passage matrix ``M[i, j]`` (steps from i to first reach j; ``M[i, i]`` is
    the mean recurrence time ``1 / pi_i``). Requires an irreducible chain."""
    p = check_stochastic(p)
    n = p.shape[0]
    pi = stationary(p)
    z = np.linalg.inv(np.eye(n) - p + np.outer(np.ones(n), pi))
    m = (np.diag(z)[None, :] - z) / pi[None, :]
    m[np.diag_indices(n)] = 1.0 / pi
    return m


def forecast(p: np.ndarray, start: np.ndarray, steps: int) -> np.ndarray:
    """The distribution ``steps`` periods after ``start`` (a distribution or a one-hot)."""
    if steps < 0:
        raise DataError(f"forecast steps: expected >= 0, got {steps}")
    return np.asarray(start, dtype=float) @ np.linalg.matrix_power(check_stochastic(p), steps)


def absorption_times(p: np.ndarray, target: int) -> np.ndarray:
    """Expected steps until ``target`` is first reached when it absorbs (0 at the target)."""
    p = check_stochastic(p)
    keep = [i for i in range(p.shape[0]) if i != target]
    q = p[np.ix_(keep, keep)]
    t = np.linalg.solve(np.eye(len(keep)) - q, np.ones(len(keep)))
    out = np.zeros(p.shape[0])
    out[keep] = t
    return out


@dataclass(frozen=True)
class ChainAnalytics:
    """Every analytic of one transition matrix (see the module docstring)."""

    stationary: np.ndarray
    eigenvalues: np.ndarray
    spectral_gap: float
    sojourn: np.ndarray
    first_passage: np.ndarray
    time_to_target: np.ndarray

    @classmethod
    def of(cls, p: np.ndarray, target: int) -> ChainAnalytics:
        return cls(
            stationary(p),
            eigenvalues(p),
            spectral_gap(p),
            sojourn_times(p),
            first_passage_times(p),
            absorption_times(p, target),
        )
