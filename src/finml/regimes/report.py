"""Rich printing of a :class:`~finml.jobs.regimes.RegimeReport`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.table import Table as RichTable

if TYPE_CHECKING:
    from rich.console import Console

    from finml.jobs.regimes import RegimeReport


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
    last = report.days.groupby("symbol").tail(1)
    for row in last.itertuples():
        name, confidence, _ = chain.predict_next(int(row.regime_id))
        console.print(
            f"{row.symbol} {row.trade_date}: {chain.states[int(row.regime_id)]} -> "
            f"next {name} (p={confidence:.2f})"
        )
    console.print(report.summary())
