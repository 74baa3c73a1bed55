"""Regime accuracy against known regimes (best label permutation) and the HMM alternative."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from typing import Protocol

import numpy as np
import pandas as pd

from finml.errors import DataError

EXCHANGE_TZ = "America/New_York"


class _FittedHmm(Protocol):
    """What this module reads of a fitted ``hmmlearn`` ``GaussianHMM`` (hmmlearn is untyped)."""

    covars_: np.ndarray
    means_: np.ndarray

    def predict(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray: ...

    def score(self, X: np.ndarray, lengths: np.ndarray) -> float: ...


def best_permutation_accuracy(predicted: np.ndarray, truth: np.ndarray, k: int = 3) -> float:
    """The share of agreeing labels under the relabelling of ``predicted`` that agrees most
    (state ids of an unsupervised model are arbitrary).

    Raises:
        DataError: the arrays differ in length or are empty.
    """
    p, t = np.asarray(predicted, dtype=np.int64), np.asarray(truth, dtype=np.int64)
    if p.shape != t.shape or p.size == 0:
        raise DataError(f"accuracy: expected two equal non-empty arrays, got {p.shape}, {t.shape}")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (p, t), 1)
    best = max(sum(confusion[i, perm[i]] for i in range(k)) for perm in permutations(range(k)))
    return float(best) / p.size


def daily_truth(truth_minutes: pd.DataFrame) -> pd.DataFrame:
    """``sim_truth_regimes`` (symbol, minute_ts_ms, regime_id) -> one regime per symbol and
    New-York trade date (the most frequent one that day)."""
    stamps = pd.to_datetime(truth_minutes["minute_ts_ms"], unit="ms", utc=True)
    frame = truth_minutes.assign(trade_date=stamps.dt.tz_convert(EXCHANGE_TZ).dt.date)
    grouped = frame.groupby(["symbol", "trade_date"])["regime_id"]
    return grouped.agg(lambda s: int(s.mode().iloc[0])).rename("true_regime_id").reset_index()


@dataclass(frozen=True)
class HmmFit:
    """A Gaussian HMM's decoded states (ordered by their variance: 0 calmest)."""

    states: np.ndarray
    log_likelihood: float
    features: str


def fit_hmm(
    days: pd.DataFrame, features: str = "returns", seed: int = 0, restarts: int = 5
) -> HmmFit:
    """Fit a 3-state Gaussian HMM (best likelihood of ``restarts`` EM runs) to the daily
    rows (sorted by symbol, date; one sequence per symbol) on ``returns`` (daily log
    return) or ``log_vol`` (log risk score).

    Raises:
        DataError: unknown ``features``, too few days, or no EM run with a finite likelihood.
    """
    column = {"returns": "day_return", "log_vol": "risk_score"}.get(features)
    if column is None:
        raise DataError(f"hmm features: expected 'returns' or 'log_vol', got {features!r}")
    x = days[column].to_numpy(dtype=float)
    x = np.log(x) if features == "log_vol" else x
    x = np.where(np.isfinite(x), x, 0.0)  # the first day of a symbol has no return
    if x.size < 6:
        raise DataError(f"hmm: expected at least 6 daily rows, got {x.size}")
    lengths = days.groupby("symbol", sort=False).size().to_numpy()
    model = _best_of(x[:, None], lengths, seed, restarts)
    decoded = model.predict(x[:, None], lengths)
    spread = np.asarray(model.covars_).reshape(3, -1)[:, 0]
    rank = np.argsort(np.argsort(spread if features == "returns" else model.means_[:, 0]))
    return HmmFit(rank[decoded], float(model.score(x[:, None], lengths)), features)


def _best_of(x: np.ndarray, lengths: np.ndarray, seed: int, restarts: int) -> _FittedHmm:
    # EM finds local optima; keep the best of a few seeded starts.
    from hmmlearn.hmm import GaussianHMM

    best: _FittedHmm | None = None
    best_score = -np.inf
    for attempt in range(restarts):
        model = GaussianHMM(
            n_components=3, covariance_type="diag", n_iter=200, random_state=seed + attempt
        )
        model.fit(x, lengths)
        score = model.score(x, lengths)
        if score > best_score:
            best, best_score = model, score
    if best is None:
        raise DataError(f"hmm: expected a finite likelihood from {restarts} EM runs, got none")
    return best
