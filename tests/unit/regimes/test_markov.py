"""Markov estimation: vectorised counting, smoothing, bootstrap, prediction, serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import DataError
from finml.regimes.markov import MarkovChain, count_transitions, smoothed


def naive_counts(seq: list[int], k: int, starts: list[bool]) -> np.ndarray:
    counts = np.zeros((k, k), dtype=np.int64)
    for i in range(1, len(seq)):
        if not starts[i]:
            counts[seq[i - 1], seq[i]] += 1
    return counts


def test_counts_equal_a_loop_and_respect_sequence_starts() -> None:
    rng = np.random.default_rng(3)
    seq = rng.integers(0, 3, 1000)
    starts = np.zeros(1000, dtype=bool)
    starts[[0, 400, 401, 700]] = True
    expected = naive_counts(seq.tolist(), 3, starts.tolist())
    assert (count_transitions(seq, 3, starts) == expected).all()
    assert count_transitions(seq, 3).sum() == 999


def test_counts_reject_unknown_states() -> None:
    with pytest.raises(DataError, match=r"expected integers in 0\.\.2, got 0\.\.3"):
        count_transitions(np.array([0, 3]), 3)


def test_fit_recovers_a_known_chain_with_binomial_width_intervals() -> None:
    truth = np.array([[0.9, 0.08, 0.02], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    rng = np.random.default_rng(0)
    seq = np.zeros(20_000, dtype=np.int64)
    draws = rng.random(seq.size)
    cumulative = truth.cumsum(axis=1)
    for t in range(1, seq.size):
        seq[t] = np.searchsorted(cumulative[seq[t - 1]], draws[t])
    chain = MarkovChain.fit(seq, smoothing=0.5, bootstrap=300, seed=1)
    assert np.max(np.abs(chain.matrix - truth)) < 0.02
    # Reference: the binomial standard error sqrt(p(1-p)/n_i) of each row's frequencies.
    n = chain.counts.sum(axis=1, keepdims=True)
    normal_width = 2 * 1.959964 * np.sqrt(chain.matrix * (1 - chain.matrix) / n)
    assert np.max(np.abs((chain.ci_high - chain.ci_low) / normal_width - 1)) < 0.2
    assert (chain.ci_low <= chain.matrix + 1e-12).all()


def test_smoothing_formula_and_unseen_rows() -> None:
    counts = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    p = smoothed(counts, 1.0)
    assert p[0] == pytest.approx([4 / 7, 2 / 7, 1 / 7], abs=1e-12)
    assert p[1] == pytest.approx([1 / 3] * 3, abs=1e-12)
    assert smoothed(counts, 0.0)[1] == pytest.approx([1 / 3] * 3, abs=1e-12)


def test_predict_next_and_round_trip() -> None:
    seq = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0, 0, 1, 2])
    chain = MarkovChain.fit(seq, smoothing=0.0, bootstrap=20)
    name, confidence, dist = chain.predict_next("Normal")
    assert name == chain.states[int(np.argmax(chain.matrix[0]))]
    assert confidence == pytest.approx(chain.matrix[0].max())
    assert dist.sum() == pytest.approx(1.0)
    again = MarkovChain.from_dict(chain.to_dict())
    assert np.array_equal(again.matrix, chain.matrix)
    with pytest.raises(DataError, match="expected one of"):
        chain.predict_next("Boom")
