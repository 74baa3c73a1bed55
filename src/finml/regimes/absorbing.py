"""The chain with Crisis made absorbing (pure numpy): how long until a crisis, from each regime.

The target's row becomes ``e_target`` (once in, never out); the other states are transient
with block ``Q``. With the fundamental matrix ``N = (I - Q)^-1``, the expected steps to
absorption are ``t = N 1`` and their variance ``(2N - I) t - t^2`` (Kemeny & Snell); the
probability of having been absorbed within ``h`` steps is ``(P_abs^h)[i, target]``. The
interval of ``t`` resamples the observed transitions out of each state (the chain's own
bootstrap: a multinomial per row with its total and empirical frequencies), smooths each draw
as the chain is smoothed and solves for ``t`` per draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finml.regimes.analytics import absorption_times, check_stochastic
from finml.regimes.markov import MarkovChain, smoothed

HORIZONS = (5, 20, 60)  # days: "absorbed within" probabilities logged as metrics
CURVE_DAYS = 60


def absorbing_matrix(p: np.ndarray, target: int) -> np.ndarray:
    """``p`` with ``target``'s row replaced by the unit row (an absorbing state)."""
    out = check_stochastic(p).copy()
    out[target] = np.eye(out.shape[0])[target]
    return out


def absorption_std(p: np.ndarray, target: int) -> np.ndarray:
    """Standard deviation of the steps to absorption from each state (0 at the target)."""
    p = check_stochastic(p)
    keep = [i for i in range(p.shape[0]) if i != target]
    n = np.linalg.inv(np.eye(len(keep)) - p[np.ix_(keep, keep)])
    t = n.sum(axis=1)
    out = np.zeros(p.shape[0])
    out[keep] = np.sqrt(np.maximum((2.0 * n - np.eye(len(keep))) @ t - t**2, 0.0))
    return out


def absorbed_within(p: np.ndarray, target: int, days: int) -> np.ndarray:
    """``curve[h - 1, i]``: the probability of having reached ``target`` within ``h`` steps
    from state ``i``, for ``h`` = 1..``days``."""
    step = absorbing_matrix(p, target)
    power, curve = np.eye(step.shape[0]), []
    for _ in range(days):
        power = power @ step
        curve.append(power[:, target])
    return np.asarray(curve)


def absorption_intervals(
    chain: MarkovChain, target: int, draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals (at ``chain.ci_level``) of the expected steps to absorption per
    state; NaN where a draw leaves the target unreachable (possible only without smoothing)."""
    counts, k = chain.counts, chain.counts.shape[0]
    rng = np.random.default_rng(seed)
    samples = np.empty((draws, k, k))
    for i in range(k):  # k is 3: the draws are vectorised
        total = int(counts[i].sum())
        freq = counts[i] / total if total else np.full(k, 1.0 / k)
        samples[:, i, :] = rng.multinomial(total, freq, size=draws)
    probs = smoothed(samples, chain.smoothing)
    keep = [i for i in range(k) if i != target]
    q = probs[:, keep][:, :, keep]
    try:
        t = np.linalg.solve(np.eye(len(keep)) - q, np.ones((draws, len(keep), 1)))[..., 0]
    except np.linalg.LinAlgError:
        nan = np.full(k, np.nan)
        return nan, nan
    times = np.zeros((draws, k))
    times[:, keep] = t
    tail = (1.0 - chain.ci_level) / 2.0 * 100.0
    return np.percentile(times, tail, axis=0), np.percentile(times, 100.0 - tail, axis=0)


@dataclass(frozen=True)
class AbsorbingSummary:
    """The absorbing chain toward ``target`` and its times to absorption per state."""

    states: tuple[str, ...]
    target: int
    matrix: np.ndarray
    expected: np.ndarray
    std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    curve: np.ndarray  # CURVE_DAYS x states, see absorbed_within

    @classmethod
    def of(
        cls, chain: MarkovChain, target: str = "Crisis", *, draws: int = 500, seed: int = 0
    ) -> AbsorbingSummary:
        i = chain.index(target)
        low, high = absorption_intervals(chain, i, draws, seed)
        return cls(
            chain.states, i, absorbing_matrix(chain.matrix, i),
            absorption_times(chain.matrix, i), absorption_std(chain.matrix, i), low, high,
            absorbed_within(chain.matrix, i, CURVE_DAYS),
        )  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow, per starting state (lower-case names)."""
        target = self.states[self.target].lower()
        out: dict[str, float] = {}
        for i, name in enumerate(s.lower() for s in self.states):
            out[f"time_to_{target}_from_{name}"] = float(self.expected[i])
            out[f"time_to_{target}_std_from_{name}"] = float(self.std[i])
            out[f"time_to_{target}_ci_low_from_{name}"] = float(self.ci_low[i])
            out[f"time_to_{target}_ci_high_from_{name}"] = float(self.ci_high[i])
            for h in HORIZONS:
                out[f"p_{target}_within_{h}d_from_{name}"] = float(self.curve[h - 1, i])
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "states": list(self.states),
            "absorbing_state": self.states[self.target],
            "absorbing_matrix": self.matrix.tolist(),
            "expected_time_to_absorption": self.expected.tolist(),
            "std_time_to_absorption": self.std.tolist(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "absorbed_within_days": self.curve.tolist(),
        }
