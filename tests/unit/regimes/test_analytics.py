"""Markov analytics against closed forms and independent linear-algebra computations."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import DataError
from finml.regimes import analytics as an

THREE = np.array([[0.93, 0.06, 0.01], [0.12, 0.80, 0.08], [0.05, 0.17, 0.78]])


def two_state(a: float, b: float) -> np.ndarray:
    return np.array([[1 - a, a], [b, 1 - b]])


@pytest.mark.parametrize(("a", "b"), [(0.1, 0.3), (0.02, 0.5), (0.7, 0.9)])
def test_two_state_closed_forms(a: float, b: float) -> None:
    """Reference: two-state chain closed forms (e.g. Norris, Markov Chains, 1.1):
    pi = (b, a)/(a+b), lambda_2 = 1-a-b, sojourn 1/a and 1/b, first passage 1/a and 1/b,
    mean recurrence 1/pi_i."""
    p = two_state(a, b)
    assert an.stationary(p) == pytest.approx([b / (a + b), a / (a + b)], abs=1e-9)
    assert an.spectral_gap(p) == pytest.approx(1 - abs(1 - a - b), abs=1e-9)
    assert an.sojourn_times(p) == pytest.approx([1 / a, 1 / b], abs=1e-9)
    m = an.first_passage_times(p)
    assert m[0, 1] == pytest.approx(1 / a, abs=1e-9)
    assert m[1, 0] == pytest.approx(1 / b, abs=1e-9)
    assert m[0, 0] == pytest.approx((a + b) / b, abs=1e-9)
    assert an.absorption_times(p, 1)[0] == pytest.approx(1 / a, abs=1e-9)


def test_stationary_matches_linear_system() -> None:
    """Reference: solve pi (P - I) = 0 with sum(pi) = 1 by numpy.linalg.lstsq (not eig)."""
    k = THREE.shape[0]
    system = np.vstack([(THREE - np.eye(k)).T, np.ones(k)])
    rhs = np.r_[np.zeros(k), 1.0]
    expected = np.linalg.lstsq(system, rhs, rcond=None)[0]
    assert np.max(np.abs(an.stationary(THREE) - expected)) < 1e-9
    assert np.max(np.abs(an.stationary(THREE) @ THREE - an.stationary(THREE))) < 1e-12


def test_spectral_gap_matches_characteristic_polynomial() -> None:
    """Reference: roots of the characteristic polynomial (numpy.poly/roots), not eigvals."""
    roots = np.roots(np.poly(THREE))
    second = sorted(np.abs(roots), reverse=True)[1]
    assert abs(an.spectral_gap(THREE) - (1 - second)) < 1e-9


def test_first_passage_matches_per_target_linear_systems() -> None:
    """Reference: for each target j solve m = 1 + P_{-j,-j} m (first-step analysis) and
    M_jj = 1 + sum_k P_jk m_k; independent of the fundamental-matrix path."""
    k = THREE.shape[0]
    expected = np.zeros((k, k))
    for j in range(k):
        others = [i for i in range(k) if i != j]
        q = THREE[np.ix_(others, others)]
        m = np.linalg.solve(np.eye(k - 1) - q, np.ones(k - 1))
        expected[others, j] = m
        expected[j, j] = 1 + THREE[j, others] @ m
    assert np.max(np.abs(an.first_passage_times(THREE) - expected)) < 1e-9
    assert np.max(np.abs(np.diag(expected) - 1 / an.stationary(THREE))) < 1e-9


def test_absorbing_time_equals_first_passage_to_crisis() -> None:
    """The absorbing variant's expected time to Crisis equals the first-passage column."""
    t = an.absorption_times(THREE, 2)
    m = an.first_passage_times(THREE)
    assert t[2] == 0.0
    assert np.max(np.abs(t[:2] - m[:2, 2])) < 1e-9


def test_forecast_and_sojourn() -> None:
    """Reference: repeated vector-matrix products; sojourn as the geometric mean 1/(1-p)."""
    start = np.array([1.0, 0.0, 0.0])
    stepped = start.copy()
    for _ in range(7):
        stepped = stepped @ THREE
    assert np.max(np.abs(an.forecast(THREE, start, 7) - stepped)) < 1e-12
    assert an.forecast(THREE, start, 500) == pytest.approx(an.stationary(THREE), abs=1e-9)
    assert an.sojourn_times(THREE) == pytest.approx(1 / (1 - np.diag(THREE)), abs=1e-9)
    assert an.sojourn_times(np.eye(2))[0] == np.inf


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones((2, 3)) / 3, "expected a square matrix"),
        (np.array([[0.5, 0.4], [0.5, 0.5]]), "expected rows summing to 1"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), "non-negative"),
    ],
)
def test_bad_matrices_are_named(matrix: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        an.stationary(matrix)
