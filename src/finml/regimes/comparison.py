"""The regime methods side by side on one held-out split: the threshold chain (the baseline),
the regime HMM (:class:`~finml.regimes.hmm.RegimeHmm`) and statsmodels' Markov-switching
regression (switching mean and variance) on daily returns.

Every method's transition model is fitted on the rows the gate fits on
(:attr:`HeldOut.fit_mask`) and forecasts tomorrow's regime for each transition into a
held-out date, from what is known today:

* **threshold**: the chain's row of today's label (the matrix the gate scores);
* **regime HMM**: today's filtered posterior times the forecast matrix;
* **Markov-switching**: today's filtered probabilities (the whole series filtered with the
  fit rows' parameters) times its transition matrix, states ordered by variance.

Forecasts are scored against the held-out day's **threshold label** (the regime definition the
gate scores, so the threshold chain plays at home) and, when the simulator's hidden regimes are
known, against the **truth** (ids 0 Normal, 1 Stress, 2 Crisis, as the simulator's): summed
log-likelihood (as the gate) and the mean multi-class Brier score. Labels over all days (the
threshold labels; the HMM's smoothed labels and statsmodels' smoothed argmax, under the same
fit-rows parameters) give the accuracy against the truth (best relabelling) and the agreement
between methods (equal state names: every method orders its states calmest first).

Statsmodels sees the symbols' returns pooled in one series (a symbol's first day has no
return and counts as 0): an approximation where several symbols share a market regime.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.regimes.evaluate import best_permutation_accuracy
from finml.regimes.hmm import RegimeHmm
from finml.regimes.hmm_features import daily_features
from finml.regimes.settings import RegimeSettings

THRESHOLD, REGIME_HMM, MARKOV_SWITCHING = "threshold", "regime_hmm", "markov_switching"
METHODS = (THRESHOLD, REGIME_HMM, MARKOV_SWITCHING)
K = 3
_PROB_FLOOR = 1e-12  # a forecast probability of 0 would make one transition -inf
# statsmodels' fit: EM iterations as a warm start, then at most MS_MAXITER BFGS steps (each
# a complex-step gradient over 12 parameters). Measured on 96 and 400 simulated days (load
# ~3 on 2 cores): 50 BFGS steps stopped unconverged (0.7-0.9 s, 0.17 nats short), 100
# converged (1.1-1.2 s), as did 5 EM + 5 random searches + unbounded BFGS (1.2-2.5 s at
# load ~15). Hitting the cap is "not_converged".
MS_EM_ITER, MS_MAXITER = 50, 100


class FitStatus(StrEnum):
    """How a method's fit went (the ``finml.status`` tag of its comparison run)."""

    OK = "ok"
    NOT_CONVERGED = "not_converged"  # scored, but the optimiser reported no convergence
    FAILED = "failed"  # nothing scored; the reason says why


@dataclass
class MethodResult:
    """One method's labels over all days, its forecasts for the held-out transitions and
    their scores, and how its fit went (``reason`` unless :attr:`FitStatus.OK`)."""

    method: str
    status: FitStatus = FitStatus.OK
    reason: str = ""
    labels: np.ndarray | None = None
    forecasts: np.ndarray | None = None  # held-out transitions x K
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Inputs:
    """What every method sees: the daily rows (symbol, trade_date, day_return, regime_id,
    sorted by symbol then date), the bars, the fit mask, the held-out transitions' origin
    rows, the threshold chain's matrix, the truth per row (NaN unknown) and the settings
    (the HMM's priors, restarts and seed)."""

    days: pd.DataFrame
    bars: pd.DataFrame
    fit_mask: np.ndarray
    origins: np.ndarray
    matrix: np.ndarray
    truth: np.ndarray | None
    settings: RegimeSettings


def heldout_origins(days: pd.DataFrame, fit_mask: np.ndarray) -> np.ndarray:
    """Row indices ``t`` of each transition ``t -> t+1`` into a held-out date (the
    transitions :func:`~finml.regimes.heldout.split_heldout` scores, in the same order)."""
    symbols = days["symbol"].to_numpy()
    held = ~np.asarray(fit_mask, dtype=bool)
    return np.flatnonzero((symbols[1:] == symbols[:-1]) & held[1:])


def compare(inputs: Inputs) -> dict[str, MethodResult]:
    """Fit, forecast and score every method of :data:`METHODS`; a method that cannot fit on
    these data (too few days, an optimiser giving up) comes back ``failed``, never raises."""
    fits: dict[str, Callable[[Inputs], tuple[np.ndarray, np.ndarray, FitStatus]]] = {
        THRESHOLD: _threshold, REGIME_HMM: _regime_hmm, MARKOV_SWITCHING: _markov_switching,
    }  # fmt: skip
    results = {}
    for name, fit in fits.items():
        started = time.perf_counter()
        result = MethodResult(name)
        try:
            result.labels, result.forecasts, result.status = fit(inputs)
        except (ValueError, np.linalg.LinAlgError) as exc:  # DataError; an optimiser's refusal
            result.status, result.reason = FitStatus.FAILED, f"{type(exc).__name__}: {exc}"
        if result.status is FitStatus.NOT_CONVERGED:
            result.reason = "the optimiser reported no convergence (scores kept, read with care)"
        result.seconds = time.perf_counter() - started
        results[name] = result
    _score(results, inputs)
    return results


def _score(results: dict[str, MethodResult], inputs: Inputs) -> None:
    labels = inputs.days["regime_id"].to_numpy(dtype=np.int64)
    targets = labels[inputs.origins + 1]
    truth = inputs.truth
    for result in results.values():
        if result.forecasts is None or result.labels is None:
            continue
        m = result.metrics
        m["heldout_loglik"], m["heldout_brier"] = forecast_scores(result.forecasts, targets)
        m["heldout_transitions"] = float(targets.size)
        if truth is not None and (known := ~np.isnan(truth)).any():
            truth_ids = truth[known].astype(np.int64)
            m["accuracy_vs_truth"] = best_permutation_accuracy(result.labels[known], truth_ids)
            next_known = known[inputs.origins + 1]
            if next_known.any():
                true_next = truth[inputs.origins + 1][next_known].astype(np.int64)
                ll, brier = forecast_scores(result.forecasts[next_known], true_next)
                m["truth_heldout_loglik"], m["truth_heldout_brier"] = ll, brier
        for other in results.values():
            if other.labels is not None and other.method != result.method:
                m[f"agreement_with_{other.method}"] = float(np.mean(result.labels == other.labels))


def forecast_scores(probs: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """The summed log-likelihood of ``targets`` under ``probs`` (rows: distributions over K
    states; a 0 is floored at 1e-12) and the mean multi-class Brier score
    ``sum_k (p_k - 1[target = k])^2``.

    Raises:
        DataError: ``probs`` is not (len(targets), K) or a target is outside 0..K-1.
    """
    p, t = np.asarray(probs, dtype=float), np.asarray(targets, dtype=np.int64)
    if p.shape != (t.size, K) or (t.size and (t.min() < 0 or t.max() >= K)):
        raise DataError(f"forecasts: expected ({t.size}, {K}) and targets in 0..{K - 1}, "
                        f"got {p.shape}")  # fmt: skip
    rows = np.arange(t.size)
    loglik = float(np.log(np.maximum(p[rows, t], _PROB_FLOOR)).sum())
    brier = float(np.mean(((p - np.eye(K)[t]) ** 2).sum(axis=1))) if t.size else float("nan")
    return loglik, brier


def _threshold(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, FitStatus]:
    labels = inputs.days["regime_id"].to_numpy(dtype=np.int64)
    return labels, np.asarray(inputs.matrix)[labels[inputs.origins]], FitStatus.OK


def _regime_hmm(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, FitStatus]:
    days = inputs.days
    features = daily_features(inputs.bars)
    keys = ["symbol", "trade_date"]
    rows = days[keys].merge(features.days[keys].reset_index(), on=keys, how="left")["index"]
    if rows.isna().any():
        raise DataError("regime HMM: expected features for every daily row, some have none")
    x = features.x[rows.to_numpy(dtype=np.int64)]
    lengths = days.groupby("symbol", sort=False).size().to_numpy()
    fit = np.asarray(inputs.fit_mask, dtype=bool)
    fit_lengths = days[fit].groupby("symbol", sort=False).size().to_numpy()
    labels = days["regime_id"].to_numpy(dtype=np.int64)
    s = inputs.settings
    model = RegimeHmm.fit(
        x[fit], fit_lengths, sticky=s.hmm_sticky, forecast_smoothing=s.hmm_forecast_smoothing,
        restarts=s.hmm_restarts, seed=s.seed, start_labels=labels[fit],
    )  # fmt: skip
    if model.k != K:
        raise DataError(f"regime HMM: expected {K} states, got {model.k}")
    forecasts = model.next_regime(model.filtered(x, lengths)[inputs.origins])
    return model.labels(x, lengths), forecasts, FitStatus.OK


def _markov_switching(inputs: Inputs) -> tuple[np.ndarray, np.ndarray, FitStatus]:
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    returns = inputs.days["day_return"].to_numpy(dtype=float) * 100.0  # percent: its scale
    returns = np.where(np.isfinite(returns), returns, 0.0)
    fit = np.asarray(inputs.fit_mask, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning, overflow in a bad start
        model = MarkovRegression(returns[fit], k_regimes=K, trend="c", switching_variance=True)
        result = model.fit(em_iter=MS_EM_ITER, maxiter=MS_MAXITER, disp=False)
        whole = MarkovRegression(returns, k_regimes=K, trend="c", switching_variance=True)
        filtered = np.asarray(whole.filter(result.params).filtered_marginal_probabilities)
        smoothed = np.asarray(whole.smooth(result.params).smoothed_marginal_probabilities)
    if not np.isfinite(filtered).all() or not np.isfinite(smoothed).all():
        raise DataError("markov-switching: expected finite probabilities, got NaN")
    names = list(model.param_names)
    variances = np.array([result.params[names.index(f"sigma2[{i}]")] for i in range(K)])
    order = np.argsort(variances, kind="stable")  # position i: the i-th calmest fitted state
    rank = np.argsort(order)
    # statsmodels' matrix is column-stochastic: P[i, j] = P(to i | from j)
    p = np.asarray(model.regime_transition_matrix(result.params))[:, :, 0].T
    forecasts = (filtered[inputs.origins] @ p)[:, order]
    converged = bool(result.mle_retvals.get("converged", True))
    status = FitStatus.OK if converged else FitStatus.NOT_CONVERGED
    return rank[smoothed.argmax(axis=1)], forecasts, status
