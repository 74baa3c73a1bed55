"""EM restarts of the sticky Gaussian HMM (hmmlearn) on standardised features; see
:mod:`finml.regimes.hmm` for the model and why it has two transition matrices."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.regimes.discretise import assign, fit_thresholds

N_ITER = 300
_STAY = 0.9  # the starting transition matrix: 0.9 on the diagonal


@dataclass(frozen=True)
class FitOptions:
    k: int
    sticky: float  # staying pseudo-counts added to each state's diagonal
    forecast_smoothing: float  # pseudo-counts per transition of the forecast matrix
    restarts: int  # EM runs besides the threshold-label start
    seed: int
    tie_nats: float = 0.0  # the label start wins unless another run beats it by more


@dataclass(frozen=True)
class HmmParams:
    """Fitted parameters in hmmlearn's state order (not yet ordered by volatility)."""

    means: np.ndarray
    variances: np.ndarray
    transmat: np.ndarray
    forecast_transmat: np.ndarray
    log_likelihood: float


def fit_sticky_hmm(
    z: np.ndarray, lengths: np.ndarray, options: FitOptions, start_labels: np.ndarray | None
) -> HmmParams:
    """The best-likelihood EM run over the starts (the threshold-label run when within
    ``options.tie_nats`` of it), then its forecast matrix.

    Raises:
        DataError: every EM run collapsed (NaN parameters) or had no finite likelihood.
    """
    logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # "not converging" per EM wobble
    labels = _start_labels(z, lengths, options.k, start_labels)
    runs: list[tuple[float, Any]] = []
    for model in _starts(z, options, labels):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(z, lengths)
                score = float(model.score(z, lengths))
        except ValueError:  # EM collapsed a state: this start is lost, the others count
            continue
        if np.isfinite(score):
            runs.append((score, model))
    best_score, best = max(runs, key=lambda run: run[0], default=(-np.inf, None))
    from_labels = [run for run in runs if run[1].init_params == ""]
    if from_labels and from_labels[0][0] >= best_score - options.tie_nats:
        best_score, best = from_labels[0]
    if best is None:
        raise DataError(
            f"hmm: expected a finite likelihood from {options.restarts + 1} EM runs, got none"
        )
    variances = np.diagonal(best.covars_, axis1=1, axis2=2).copy()
    forecast = _forecast_matrix(best, z, lengths, options.forecast_smoothing)
    return HmmParams(best.means_.copy(), variances, best.transmat_.copy(), forecast, best_score)


def _model(options: FitOptions, init_params: str, attempt: int) -> Any:
    from hmmlearn.hmm import GaussianHMM

    k = options.k
    model = GaussianHMM(
        n_components=k,
        covariance_type="diag",
        n_iter=N_ITER,
        random_state=options.seed + attempt + 1,  # attempt -1: the label start
        transmat_prior=np.ones((k, k)) + np.eye(k) * options.sticky,
        init_params=init_params,
        params="tmc",  # the start law stays uniform: one or few sequences cannot estimate it
    )
    model.startprob_ = np.full(k, 1.0 / k)
    model.transmat_ = np.full((k, k), (1.0 - _STAY) / (k - 1)) + np.eye(k) * (
        _STAY - (1.0 - _STAY) / (k - 1)
    )
    return model


def _starts(z: np.ndarray, options: FitOptions, labels: np.ndarray) -> Iterator[Any]:
    """The threshold-label start, evenly spaced range quantiles, then alternately random
    quantiles and hmmlearn's k-means starts."""
    k = options.k
    from_labels = _label_moments(z, labels, k)
    if from_labels is not None:
        model = _model(options, "", -1)
        model.means_, model.covars_ = from_labels
        yield model
    rng = np.random.default_rng(options.seed)
    for attempt in range(options.restarts):
        if attempt % 2 == 0:
            qs = (np.arange(k) + 0.5) / k if attempt == 0 else np.sort(rng.uniform(0.05, 0.95, k))
            model = _model(options, "c", attempt)
            means = np.tile(z.mean(axis=0), (k, 1))
            means[:, -1] = np.quantile(z[:, -1], qs)
            model.means_ = means
        else:
            model = _model(options, "mc", attempt)
        yield model


def _label_moments(
    z: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-label means and variances, or None when a label has fewer than 2 days."""
    counts = np.bincount(labels, minlength=k)
    if (counts < 2).any():
        return None
    means = np.stack([z[labels == s].mean(axis=0) for s in range(k)])
    variances = np.stack([np.maximum(z[labels == s].var(axis=0), 1e-3) for s in range(k)])
    return means, variances


def _start_labels(
    z: np.ndarray, lengths: np.ndarray, k: int, given: np.ndarray | None
) -> np.ndarray:
    """The given labels (Stress and Crisis merged when k is 2), else the threshold
    discretiser's k-means cut of each sequence's 5-day mean of exp(2 z_range)
    (the squared range up to a power: standardising rescaled its log)."""
    if given is not None:
        labels = np.asarray(given, dtype=np.int64)
        if labels.shape != (z.shape[0],) or labels.min() < 0:
            raise DataError(
                f"hmm start labels: expected {z.shape[0]} labels >= 0, got shape {labels.shape}"
            )
        return np.minimum(labels, k - 1)
    groups = np.repeat(np.arange(len(lengths)), lengths)
    squared = pd.Series(np.exp(2.0 * z[:, -1]))
    score = squared.groupby(groups).transform(lambda s: s.rolling(5, min_periods=1).mean())
    values = score.to_numpy()
    return np.minimum(assign(values, fit_thresholds(values, "kmeans")), k - 1)


def _forecast_matrix(best: Any, z: np.ndarray, lengths: np.ndarray, smoothing: float) -> Any:
    """Re-estimate only the transition matrix (hmmlearn EM, emissions fixed) under
    ``smoothing`` pseudo-counts per transition instead of the sticky prior."""
    from hmmlearn.hmm import GaussianHMM

    k = best.n_components
    model = GaussianHMM(
        n_components=k,
        covariance_type="diag",
        n_iter=N_ITER,
        transmat_prior=np.full((k, k), 1.0 + smoothing),
        init_params="",
        params="t",
    )
    model.startprob_ = best.startprob_
    model.transmat_ = best.transmat_
    model.means_ = best.means_
    model.covars_ = np.diagonal(best.covars_, axis1=1, axis2=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(z, lengths)
    return model.transmat_.copy()
