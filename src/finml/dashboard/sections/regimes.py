"""Regimes: timeline per symbol, current regime, transition heatmap and chain analytics.

The chain is re-estimated from ``regime_states`` (consecutive days per symbol, add-half
smoothing) so the dashboard needs only the table, and its analytics come from the same
pure functions the regime model uses (:mod:`finml.regimes.analytics`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    series_by,
    spec,
)
from finml.dashboard.schema import Chart, ChartFilter, Kpi, Section, Series, Status, TableBlock

SPEC_ID = "regimes"
TABLE = "regime_states"
STATES = ("Normal", "Stress", "Crisis")
SMOOTHING = 0.5
REGIME_STATUS: dict[str, Status] = {"Normal": "ok", "Stress": "warn", "Crisis": "bad"}


@section(SPEC_ID, "Market regimes", order=20, hint="finml regimes")
def regimes(ctx: ExportContext) -> Section:
    """Timeline, current regime per symbol, transition matrix, stationary distribution,
    spectral gap and sojourn times from ``regime_states``."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    full = ctx.require(TABLE).sort_values(["symbol", "trade_date"])
    matrix = transition_matrix(full)
    frame = newest(full, "trade_date").sort_values(["symbol", "trade_date"])
    analytics = _analytics(matrix)
    charts = _charts(frame, matrix, analytics)
    current = full.groupby("symbol", as_index=False).tail(1)
    cols = ["symbol", "trade_date", "regime", "risk_score", "next_regime", "next_confidence"]
    kpis = _kpis(full, current, analytics)
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(TABLE)],
        kpis=kpis,
        charts=charts,
        tables=[
            TableBlock(
                id="regimes_current",
                title="Current regime per symbol",
                columns=cols,
                rows=rows(current, cols),
            )
        ],
        notes=["Chain re-estimated from regime_states with add-½ smoothing."],
        covers=[
            coverage(TABLE, full, "trade_date", "symbol-days")
            + f" ({full['symbol'].nunique()} symbols; timeline: newest"
            f" {frame['trade_date'].nunique()} days)"
        ],
    )


def _charts(frame: pd.DataFrame, matrix: np.ndarray, analytics: dict) -> list[Chart]:
    """Timeline per symbol, transition heatmap, stationary distribution and sojourn times."""
    timeline = series_by(frame, "symbol", "trade_date", "regime_id")
    return [
        Chart(
            id="regimes_timeline",
            title="Regime timeline per symbol",
            kind="step",
            series=timeline,
            y_labels=list(STATES),
            x_title="trade date",
            x_axis="day",
            filter=ChartFilter(x_dates=True, series_symbols=True),
        ),
        Chart(
            id="regimes_transition_heatmap",
            title="Transition matrix P(from → to)",
            kind="heatmap",
            z=[[round(float(v), 4) for v in r] for r in matrix],
            x_labels=[f"to {s}" for s in STATES],
            y_labels=[f"from {s}" for s in STATES],
        ),
        Chart(
            id="regimes_stationary",
            title="Stationary distribution",
            kind="bar",
            series=[Series(name="π", x=list(STATES), y=floats(list(analytics["stationary"])))],
            y_title="long-run share",
            y_range=[0.0, 1.0],
        ),
        Chart(
            id="regimes_sojourn",
            title="Expected sojourn time",
            kind="bar",
            series=[Series(name="days", x=list(STATES), y=floats(list(analytics["sojourn"])))],
            y_title="days",
        ),
    ]


def _kpis(full: pd.DataFrame, current: pd.DataFrame, analytics: dict) -> list[Kpi]:
    """Spectral gap, symbol and day counts, and each symbol's current regime."""
    kpis = [
        Kpi(label="Spectral gap", value=round(analytics["spectral_gap"], 4), unit="1 - |λ₂|"),
        Kpi(label="Symbols", value=int(full["symbol"].nunique())),
        Kpi(label="Days classified", value=len(full)),
    ]
    for _, row in current.iterrows():
        status = REGIME_STATUS.get(row["regime"], "info")
        kpis.append(Kpi(label=f"{row['symbol']} now", value=str(row["regime"]), status=status))
    return kpis


def transition_matrix(frame: pd.DataFrame, smoothing: float = SMOOTHING) -> np.ndarray:
    """Row-stochastic 3x3 matrix of day-to-day regime moves within each symbol."""
    counts = np.full((len(STATES), len(STATES)), smoothing)
    for _, g in frame.sort_values("trade_date").groupby("symbol"):
        ids = g["regime_id"].to_numpy(dtype=int)
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    return counts / counts.sum(axis=1, keepdims=True)


def _analytics(matrix: np.ndarray) -> dict:
    from finml.regimes.analytics import sojourn_times, spectral_gap, stationary

    return {
        "stationary": stationary(matrix),
        "sojourn": sojourn_times(matrix),
        "spectral_gap": float(spectral_gap(matrix)),
    }
