"""The regime HMM in a regime run: per-day labels and posteriors, the fitted chain's analytics
with intervals, and the same analytics of the label sequences side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.table import Table as RichTable

from finml.regimes.hmm import RegimeHmm
from finml.regimes.hmm_features import daily_features
from finml.regimes.markov import MarkovChain

if TYPE_CHECKING:
    from rich.console import Console

    from finml.regimes.analytics import ChainAnalytics

KEYS = ["symbol", "trade_date"]


@dataclass(frozen=True)
class HmmSummary:
    """A fitted :class:`RegimeHmm`, its per-day ``posteriors`` (symbol, trade_date,
    hmm_regime_id, hmm_regime, p_filtered_<state>, p_smoothed_<state>), the analytics and
    Dirichlet intervals of its forecast matrix, the Markov chain of its labels and how
    often its labels equal the threshold labels (same names, no relabelling)."""

    model: RegimeHmm
    posteriors: pd.DataFrame
    analytics: ChainAnalytics
    ci_low: np.ndarray
    ci_high: np.ndarray
    labels_chain: MarkovChain
    agreement_with_thresholds: float

    def to_json(self) -> dict[str, Any]:
        """The model's parameters (``RegimeHmm.from_dict`` rebuilds it) with its forecast
        matrix's intervals and analytics: plain JSON for the run's ``analytics.json``."""
        a = self.analytics
        return {
            "params": self.model.to_dict(),
            "ci_low": self.ci_low.tolist(),
            "ci_high": self.ci_high.tolist(),
            "stationary": a.stationary.tolist(),
            "spectral_gap": a.spectral_gap,
            "sojourn": a.sojourn.tolist(),
            "time_to_crisis": a.time_to_target.tolist(),
            "agreement_with_thresholds": self.agreement_with_thresholds,
        }

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow, prefixed ``hmm_``."""
        a, out = self.analytics, {"hmm_spectral_gap": self.analytics.spectral_gap}
        out["hmm_log_likelihood"] = self.model.log_likelihood
        out["hmm_agreement_with_thresholds"] = self.agreement_with_thresholds
        for i, name in enumerate(s.lower() for s in self.model.states):
            out[f"hmm_stationary_{name}"] = float(a.stationary[i])
            out[f"hmm_sojourn_{name}"] = float(a.sojourn[i])
            out[f"hmm_time_to_crisis_from_{name}"] = float(a.time_to_target[i])
        return out


def fit_regime_hmm(
    bars: pd.DataFrame,
    days: pd.DataFrame,
    *,
    sticky: float,
    forecast_smoothing: float,
    restarts: int,
    seed: int,
) -> HmmSummary:
    """Fit the HMM on ``bars`` (one sequence per symbol), started also from ``days``'
    threshold ``regime_id``, and summarise it.

    Raises:
        DataError: bad bars (NaN, non-positive, high < low), too few days, or EM failing.
    """
    features = daily_features(bars)
    keyed = features.days[KEYS].merge(days[[*KEYS, "regime_id"]], on=KEYS, how="left")
    start = keyed["regime_id"].fillna(0).to_numpy(dtype=np.int64)
    model = RegimeHmm.fit(
        features.x, features.lengths, sticky=sticky, forecast_smoothing=forecast_smoothing,
        restarts=restarts, seed=seed, start_labels=start,
    )  # fmt: skip
    filtered = model.filtered(features.x, features.lengths)
    smoothed = model.smoothed(features.x, features.lengths)
    labels = smoothed.argmax(axis=1)
    frame = features.days[KEYS].copy()
    frame["hmm_regime_id"] = labels.astype("int32")
    frame["hmm_regime"] = np.array(model.states)[labels]
    for i, name in enumerate(s.lower() for s in model.states):
        frame[f"p_filtered_{name}"] = filtered[:, i]
        frame[f"p_smoothed_{name}"] = smoothed[:, i]
    starts = (frame["symbol"] != frame["symbol"].shift(1)).to_numpy()
    low, high = model.transition_intervals(features.x, features.lengths, seed=seed)
    return HmmSummary(
        model, frame, model.analytics("Crisis"), low, high,
        MarkovChain.fit(labels, starts, states=model.states, seed=seed),
        float(np.mean(labels == np.minimum(start, model.k - 1))),
    )  # fmt: skip


def side_by_side(summary: HmmSummary, thresholds: MarkovChain) -> pd.DataFrame:
    """Stationary share, sojourn and days to Crisis per state of three chains: the HMM's
    fitted forecast matrix, the chain of its labels and the threshold labels' chain (the
    baseline; a 2-state HMM leaves its Stress row empty)."""
    chains = {
        "hmm": summary.analytics,
        "hmm labels": summary.labels_chain.analytics("Crisis"),
        "thresholds": thresholds.analytics("Crisis"),
    }
    rows: list[dict[str, Any]] = []
    for name, a in chains.items():
        states = thresholds.states if name == "thresholds" else summary.model.states
        for i, state in enumerate(states):
            rows.append({"chain": name, "regime": state, "stationary": a.stationary[i],
                         "sojourn": a.sojourn[i], "days_to_crisis": a.time_to_target[i],
                         "spectral_gap": a.spectral_gap})  # fmt: skip
    return pd.DataFrame(rows)


def print_hmm(summary: HmmSummary, thresholds: MarkovChain, console: Console) -> None:
    """The HMM's forecast matrix with its intervals, then :func:`side_by_side`."""
    model = summary.model
    matrix = RichTable("from \\ to", *model.states, title="Regime HMM forecast transitions")
    for i, state in enumerate(model.states):
        cells = [
            f"{model.forecast_transmat[i, j]:.3f} "
            f"[{summary.ci_low[i, j]:.3f}, {summary.ci_high[i, j]:.3f}]"
            for j in range(model.k)
        ]
        matrix.add_row(state, *cells)
    console.print(matrix)
    table = RichTable("chain", "regime", "stationary", "sojourn (days)", "days to Crisis",
                      "spectral gap", title="HMM vs threshold regimes")  # fmt: skip
    for row in side_by_side(summary, thresholds).itertuples():
        table.add_row(row.chain, row.regime, f"{row.stationary:.3f}", f"{row.sojourn:.2f}",
                      f"{row.days_to_crisis:.2f}", f"{row.spectral_gap:.4f}")  # fmt: skip
    console.print(table)
    console.print(
        f"HMM labels equal to the threshold labels on {summary.agreement_with_thresholds:.3f} "
        "of days"
    )
