"""The probabilistic regime model: a sticky Gaussian HMM (hmmlearn) on per-day features.

Features (see :mod:`finml.regimes.hmm_features` for why the log range alone by default):
the log of the day's log range, optionally with the daily log return, standardised
(hmmlearn's default covariance prior of 0.01 would otherwise swamp a daily return's variance
of ~1e-4). Diagonal covariances, one sequence per symbol.

Fitting runs EM several times (hmmlearn; no EM is written here): once started from the
**threshold labels'** per-state means and variances, once with states at evenly spaced
quantiles of the log range, then alternately at random quantiles and from hmmlearn's k-means
starts. It keeps the best likelihood, except that the threshold-started run is kept when no
other beats it by more than ``tie_nats`` (default 2): on weakly identified series (the hard
benchmark case) optima a nat or two apart label 0.52-0.69 of days right, likelihood cannot
choose between them, and the data-driven start is the better bet (hard case 0.728 -> 0.759
agreement on the benchmark's seeds 0-2, 0.695 -> 0.721 on seeds 3-8; long and short
unchanged within 0.01).
States are reordered by volatility (mean log range: 0 calmest) and named Normal / Stress /
Crisis (``k=2``: Normal / Crisis).

Two transition matrices, because the two uses want different priors (measured in
``benchmarks/regimes_oracle.py``, docs/benchmarks.md):

* ``transmat`` -- the **label** matrix, fitted under a sticky Dirichlet prior: ``sticky``
  pseudo-counts of staying added to every state's diagonal. It keeps short noisy
  excursions from flipping the offline labels (:meth:`RegimeHmm.smoothed`). Default 50:
  tried against 0, 10, 20, 40 and half the fitted days on two series per benchmark
  scenario, it was within 0.025 agreement of the best everywhere; 500 labels worse (hard
  0.728, long 0.723 against 0.759 / 0.766; docs/benchmarks.md).
* ``forecast_transmat`` -- the **forecast** matrix: re-estimated by hmmlearn's EM with the
  emissions held at the fitted ones and only ``forecast_smoothing`` pseudo-counts per
  transition (no stickiness). The sticky matrix is over-confident about tomorrow; this one
  is the maximum a posteriori estimate the data support. :meth:`RegimeHmm.filtered`,
  :meth:`RegimeHmm.next_regime`, the analytics and the intervals use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from finml.errors import DataError
from finml.regimes.analytics import ChainAnalytics, check_stochastic, stationary
from finml.regimes.hmm_features import DEFAULT_FEATURES, check_features
from finml.regimes.hmm_fit import FitOptions, fit_sticky_hmm
from finml.regimes.markov import STATES

MIN_DAYS_PER_STATE = 10


def state_names(k: int) -> tuple[str, ...]:
    """Normal / Stress / Crisis for 3 states, Normal / Crisis for 2."""
    if k == 3:
        return STATES
    if k == 2:
        return (STATES[0], STATES[-1])
    raise DataError(f"hmm states: expected k of 2 or 3, got {k}")


@dataclass(frozen=True)
class RegimeHmm:
    """A fitted regime HMM; parameters are over standardised features (``(x - center) /
    scale``), state 0 the calmest. Build it with :meth:`fit` or :meth:`from_dict`."""

    states: tuple[str, ...]
    features: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    transmat: np.ndarray
    forecast_transmat: np.ndarray
    startprob: np.ndarray
    log_likelihood: float
    sticky: float
    forecast_smoothing: float

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        lengths: np.ndarray | None = None,
        *,
        k: int = 3,
        sticky: float = 50.0,
        forecast_smoothing: float = 0.5,
        restarts: int = 6,
        seed: int = 0,
        start_labels: np.ndarray | None = None,
        features: tuple[str, ...] = DEFAULT_FEATURES,
        tie_nats: float = 2.0,
    ) -> RegimeHmm:
        """Fit on ``x`` (days x features, :func:`~finml.regimes.hmm_features.daily_features`)
        with ``lengths`` days per sequence; ``features`` names x's columns (the last one
        orders the states by volatility). ``start_labels`` (0..k-1 per day, e.g. the
        threshold regimes) seed one EM start; by default k-means thresholds of the 5-day
        mean squared range. That start's run is kept unless another run's likelihood beats
        it by more than ``tie_nats``.

        Raises:
            DataError: bad ``x``/``lengths``, fewer than 10 days per state, an unsupported
                ``k``, negative priors, or every EM run collapsing.
        """
        names = state_names(k)
        x, n = check_features(x, lengths)
        if x.shape[1] != len(features):
            raise DataError(f"hmm features: expected {len(features)} columns {features}, "
                            f"got {x.shape[1]}")  # fmt: skip
        if x.shape[0] < MIN_DAYS_PER_STATE * k:
            raise DataError(
                f"hmm: expected at least {MIN_DAYS_PER_STATE * k} days for {k} states, "
                f"got {x.shape[0]}"
            )
        if sticky < 0 or forecast_smoothing < 0:
            raise DataError(
                f"hmm priors: expected sticky >= 0 and forecast_smoothing >= 0, got "
                f"{sticky} and {forecast_smoothing}"
            )
        center, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        options = FitOptions(k, sticky, forecast_smoothing, restarts, seed, tie_nats)
        fit = fit_sticky_hmm((x - center) / scale, n, options, start_labels)
        order = np.argsort(fit.means[:, -1], kind="stable")  # calmest first
        forecast = fit.forecast_transmat[np.ix_(order, order)]
        return cls(
            names, tuple(features), center, scale, fit.means[order], fit.variances[order],
            fit.transmat[np.ix_(order, order)], forecast, stationary(forecast),
            fit.log_likelihood, sticky, forecast_smoothing,
        )  # fmt: skip

    @property
    def k(self) -> int:
        return len(self.states)

    def _z(self, x: np.ndarray, lengths: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        x, n = check_features(x, lengths)
        if x.shape[1] != self.means.shape[1]:
            raise DataError(
                f"hmm features: expected {self.means.shape[1]} columns, got {x.shape[1]}"
            )
        return (x - self.center) / self.scale, n

    def log_emissions(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``log p(x_t | state)`` per day and state (diagonal Gaussians, standardised)."""
        z, _ = self._z(x, lengths)
        d = (z[:, None, :] - self.means[None]) ** 2 / self.variances[None]
        return -0.5 * (d + np.log(2.0 * np.pi * self.variances)[None]).sum(axis=2)

    def filtered(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``P(state_t | x_1..x_t)`` per day (days x k): the forward recursion under the
        forecast matrix, restarted at each sequence; day t never sees a later day."""
        return _forward(self.log_emissions(x, lengths), self._z(x, lengths)[1],
                        self.forecast_transmat, self.startprob)  # fmt: skip

    def smoothed(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """``P(state_t | x_1..x_T)`` per day (hmmlearn's forward-backward ``predict_proba``
        under the sticky label matrix): offline labels, they use later days."""
        return self._posteriors(x, lengths, self.transmat)

    def labels(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """The most probable state per day under :meth:`smoothed` (0 calmest)."""
        return self.smoothed(x, lengths).argmax(axis=1)

    def next_regime(self, filtered: np.ndarray) -> np.ndarray:
        """Tomorrow's state distribution from today's filtered posterior(s)."""
        return np.asarray(filtered, dtype=float) @ self.forecast_transmat

    def _posteriors(self, x: np.ndarray, lengths: np.ndarray | None, a: np.ndarray) -> np.ndarray:
        from hmmlearn.hmm import GaussianHMM

        z, n = self._z(x, lengths)
        model = GaussianHMM(self.k, covariance_type="diag", init_params="", params="")
        model.n_features = z.shape[1]
        model.startprob_, model.transmat_ = self.startprob, a
        model.means_, model.covars_ = self.means, self.variances
        return np.asarray(model.predict_proba(z, n))

    def expected_transitions(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Expected transition counts ``sum_t P(s_t=i, s_t+1=j | x)`` under the forecast
        matrix (``f_t(i) A_ij g_t+1(j) / (f_t A)_j`` from the filtered ``f`` and smoothed
        ``g`` posteriors), pairs across sequence boundaries excluded."""
        a = self.forecast_transmat
        f, g = self.filtered(x, lengths), self._posteriors(x, lengths, a)
        keep = np.ones(len(f) - 1, dtype=bool)
        ends = np.cumsum(self._z(x, lengths)[1])[:-1]
        keep[ends - 1] = False
        ahead = np.maximum(f[:-1] @ a, 1e-300)
        xi = f[:-1, :, None] * a[None] * (g[1:] / ahead)[:, None, :]
        return xi[keep].sum(axis=0)

    def transition_intervals(
        self, x: np.ndarray, lengths: np.ndarray | None = None, *, level: float = 0.95,
        draws: int = 2000, seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Equal-tailed ``level`` intervals of each forecast transition probability: each
        row's Dirichlet posterior given its expected transition counts plus
        ``forecast_smoothing``. They hold the emission parameters fixed (the state
        uncertainty enters through the soft counts, parameter uncertainty does not), so
        they are somewhat narrower than a full bootstrap's."""
        counts = self.expected_transitions(x, lengths) + max(self.forecast_smoothing, 1e-3)
        rng = np.random.default_rng(seed)
        samples = np.stack([rng.dirichlet(row, draws) for row in counts], axis=1)
        tail = (1.0 - level) / 2.0 * 100.0
        return np.percentile(samples, tail, axis=0), np.percentile(samples, 100 - tail, axis=0)

    def analytics(self, target: str = "Crisis") -> ChainAnalytics:
        """Stationary law, spectral gap, sojourns, first passages and the absorbing
        variant's time to ``target``, of the forecast matrix."""
        if target not in self.states:
            raise DataError(f"hmm target state: expected one of {self.states}, got {target!r}")
        return ChainAnalytics.of(self.forecast_transmat, self.states.index(target))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (lists and floats): :meth:`from_dict` rebuilds the model."""
        arrays = ("center", "scale", "means", "variances", "transmat", "forecast_transmat",
                  "startprob")  # fmt: skip
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in arrays}
        out.update(states=list(self.states), features=list(self.features),
                   log_likelihood=self.log_likelihood, sticky=self.sticky,
                   forecast_smoothing=self.forecast_smoothing)  # fmt: skip
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegimeHmm:
        """The model of :meth:`to_dict`'s output.

        Raises:
            DataError: a missing key, inconsistent shapes or a non-stochastic matrix.
        """
        try:
            arrays = {name: np.asarray(data[name], dtype=float) for name in
                      ("center", "scale", "means", "variances", "transmat",
                       "forecast_transmat", "startprob")}  # fmt: skip
            model = cls(tuple(data["states"]), tuple(data["features"]), **arrays,
                        log_likelihood=float(data["log_likelihood"]),
                        sticky=float(data["sticky"]),
                        forecast_smoothing=float(data["forecast_smoothing"]))  # fmt: skip
        except KeyError as exc:
            raise DataError(f"hmm parameters: expected key {exc.args[0]!r}, missing") from exc
        k = model.k
        shape = (k, len(model.features))
        if model.means.shape != shape or model.variances.shape != shape:
            raise DataError(f"hmm parameters: expected means and variances of shape {shape}, "
                            f"got {model.means.shape} and {model.variances.shape}")  # fmt: skip
        check_stochastic(model.transmat, "hmm transmat")
        check_stochastic(model.forecast_transmat, "hmm forecast_transmat")
        return model


def _forward(log_b: np.ndarray, lengths: np.ndarray, a: np.ndarray, start: np.ndarray):
    """Normalised forward recursion in log space, one pass per sequence."""
    out = np.empty_like(log_b)
    log_a = np.log(np.maximum(a, 1e-300))
    log_start = np.log(np.maximum(start, 1e-300))
    begin = 0
    for length in lengths:
        prior = log_start
        for t in range(begin, begin + int(length)):
            post = prior + log_b[t]
            post -= logsumexp(post)
            out[t] = post
            prior = logsumexp(post[:, None] + log_a, axis=0)
        begin += int(length)
    return np.exp(out)
