"""What a regime fit produced (:class:`RegimeReport`: chain, analytics, held-out score,
accuracy, gate decision) and its rich printing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.table import Table as RichTable

from finml.regimes.heldout import HeldOut
from finml.regimes.markov import MarkovChain

if TYPE_CHECKING:
    from rich.console import Console

    from finml.regimes.analytics import ChainAnalytics
    from finml.regimes.hmm_report import HmmSummary
    from finml.regimes.promotion import RegimeDecision


@dataclass
class RegimeReport:
    """The fitted chain, its analytics, its held-out log-likelihood, how well regimes match
    the truth and (when registered) the champion/challenger decision."""

    source: str
    days: pd.DataFrame
    thresholds: np.ndarray
    chain: MarkovChain
    analytics: ChainAnalytics
    heldout: HeldOut
    heldout_loglik: float
    accuracy: float | None = None
    hmm_accuracy: dict[str, float] = field(default_factory=dict)
    hmm_agreement: dict[str, float] = field(default_factory=dict)
    table_version: int = -1
    model_version: int | None = None
    decision: RegimeDecision | None = None
    regime_hmm: HmmSummary | None = None  # the probabilistic model; None if it could not fit
    truth: np.ndarray | None = None  # the simulator's regime per row of days (NaN unknown)
    model_run_id: str | None = None  # the registered regime_model's run
    study_runs: dict[str, str] = field(default_factory=dict)  # study -> its top-level run id

    def metrics(self) -> dict[str, float]:
        """Flat analytics for MLflow: stationary, spectral gap, sojourn, time to Crisis..."""
        a, names = self.analytics, [s.lower() for s in self.chain.states]
        out = {"spectral_gap": a.spectral_gap, "days": float(len(self.days))}
        out["heldout_loglik"] = self.heldout_loglik
        out["heldout_transitions"] = float(self.heldout.transitions)
        out["heldout_days"] = float(self.heldout.days)
        for i, name in enumerate(names):
            out[f"stationary_{name}"] = float(a.stationary[i])
            out[f"sojourn_{name}"] = float(a.sojourn[i])
            out[f"time_to_crisis_from_{name}"] = float(a.time_to_target[i])
            out[f"eigenvalue_modulus_{i}"] = float(np.abs(a.eigenvalues[i]))
            out[f"share_{name}"] = float((self.days["regime_id"] == i).mean())
        out.update({f"threshold_{i}": float(t) for i, t in enumerate(self.thresholds)})
        if self.accuracy is not None:
            out["accuracy_vs_truth"] = self.accuracy
        out.update({f"hmm_{k}_accuracy_vs_truth": v for k, v in self.hmm_accuracy.items()})
        out.update({f"hmm_{k}_agreement": v for k, v in self.hmm_agreement.items()})
        if self.regime_hmm is not None:
            out.update(self.regime_hmm.metrics())
        return out

    def analytics_json(self) -> dict[str, Any]:
        a = self.analytics
        return {
            "states": list(self.chain.states),
            "transition_matrix": self.chain.matrix.tolist(),
            "ci_low": self.chain.ci_low.tolist(),
            "ci_high": self.chain.ci_high.tolist(),
            "counts": self.chain.counts.tolist(),
            "stationary": a.stationary.tolist(),
            "eigenvalues": [[float(v.real), float(v.imag)] for v in a.eigenvalues],
            "spectral_gap": a.spectral_gap,
            "sojourn": a.sojourn.tolist(),
            "first_passage": a.first_passage.tolist(),
            "time_to_crisis": a.time_to_target.tolist(),
            "thresholds": self.thresholds.tolist(),
            "regime_hmm": None if self.regime_hmm is None else self.regime_hmm.to_json(),
        }

    def summary(self) -> str:
        """The held-out score and, when registered, the gate decision (a line each)."""
        h = self.heldout
        text = (
            f"held-out next-regime log-likelihood {self.heldout_loglik:.4f} over "
            f"{h.transitions} transitions into the last {h.days} trade dates (from "
            f"{h.first_date})"
        )
        if self.study_runs:
            text += (
                f"\nMLflow studies of this fit: {', '.join(self.study_runs)} "
                "(experiments finml-regime-<study>)"
            )
        d = self.decision
        if d is None:
            return text
        return (
            f"{text}\nregime_model v{d.challenger_version} registered as @challenger, gate "
            f"{d.decision}: {d.reason}; @champion is v{d.champion_after}"
        )

    def print(self, console: Console) -> None:
        """Transition matrix (with intervals), stationary distribution, spectral gap,
        sojourn times, time to Crisis and accuracy."""
        print_report(self, console)


def print_report(report: RegimeReport, console: Console) -> None:
    chain, a = report.chain, report.analytics
    matrix = RichTable("from \\ to", *chain.states, title=f"Regime transitions ({report.source})")
    for i, state in enumerate(chain.states):
        cells = [
            f"{chain.matrix[i, j]:.3f} [{chain.ci_low[i, j]:.3f}, {chain.ci_high[i, j]:.3f}]"
            for j in range(len(chain.states))
        ]
        matrix.add_row(f"{state} (n={int(chain.counts[i].sum())})", *cells)
    console.print(matrix)
    per_state = RichTable(
        "regime",
        "stationary",
        "sojourn (days)",
        "days to Crisis",
        "share of days",
        title="Long-run behaviour",
    )
    for i, state in enumerate(chain.states):
        per_state.add_row(
            state,
            f"{a.stationary[i]:.3f}",
            f"{a.sojourn[i]:.2f}",
            f"{a.time_to_target[i]:.2f}",
            f"{(report.days['regime_id'] == i).mean():.3f}",
        )
    console.print(per_state)
    moduli = ", ".join(f"{abs(v):.3f}" for v in a.eigenvalues)
    console.print(f"eigenvalue moduli: {moduli}; spectral gap: {a.spectral_gap:.4f}")
    console.print(f"thresholds (annualised vol): {np.round(report.thresholds, 4).tolist()}")
    if report.accuracy is not None:
        console.print(f"accuracy vs hidden regimes (best permutation): {report.accuracy:.3f}")
    for variant, value in report.hmm_accuracy.items():
        console.print(f"Gaussian HMM on {variant}: accuracy vs hidden regimes {value:.3f}")
    for variant, value in report.hmm_agreement.items():
        console.print(f"Gaussian HMM on {variant}: agreement with the Markov regimes {value:.3f}")
    if report.regime_hmm is not None:
        from finml.regimes.hmm_report import print_hmm

        print_hmm(report.regime_hmm, chain, console)
    last = report.days.groupby("symbol").tail(1)
    for row in last.itertuples():
        name, confidence, _ = chain.predict_next(int(row.regime_id))
        console.print(
            f"{row.symbol} {row.trade_date}: {chain.states[int(row.regime_id)]} -> "
            f"next {name} (p={confidence:.2f})"
        )
    console.print(report.summary())
