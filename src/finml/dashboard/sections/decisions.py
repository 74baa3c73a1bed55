"""Decisions: the latest decision run (backtest, serving or stream) -- equity, decisions by
action, the confidence distribution, the risk exposure (portfolio heat), business metrics,
the latest decisions with their reasons -- and the served decisions' latency per stage
against its budget."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    column,
    coverage,
    floats,
    missing,
    rows,
    section,
    spec,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, TableBlock, TableFilter
from finml.serving.decisions.policy import DecisionPolicy

SPEC_ID = "decisions"
TABLE = "decisions"
ACTIONS = ("TAKE_ACTION", "EXIT_POSITION", "RISK_REJECTED", "NO_ACTION")
FEED_LIMIT = 50
FEED_COLUMNS = (
    "ts",
    "symbol",
    "action",
    "reason",
    "side",
    "quantity",
    "price",
    "probability",
    "risk_score",
    "pnl",
    "equity",
    "model_version",
)


@section(SPEC_ID, "Decisions", order=65, hint="finml backtest")
def decisions(ctx: ExportContext) -> Section:
    """From ``decisions`` (the latest run: the backtest's, or the latest source's)."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    full = ctx.require(TABLE)
    latest_run = full.sort_values("decided_at")["run_id"].iloc[-1]
    run = full[full["run_id"] == latest_run].sort_values(["ts", "decided_at"], kind="stable")
    acted = run[run["action"] != "NO_ACTION"]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=_kpis(run),
        charts=[
            _equity(run),
            _by_action(run),
            _confidence(run),
            _heat(run),
            _latency(full, DecisionPolicy.from_config(ctx.config).latency_budgets.stages()),
        ],
        tables=[
            TableBlock(
                id="decisions_feed",
                title=f"Latest decisions other than NO_ACTION (run {latest_run[:8]})",
                columns=list(FEED_COLUMNS),
                rows=rows(acted.sort_values("ts", ascending=False), list(FEED_COLUMNS), FEED_LIMIT),
                filter=TableFilter(date="ts", symbol="symbol"),
            )
        ],
        sources=[ctx.source(TABLE)],
        covers=[coverage(TABLE, run, "ts", f"decisions of run {latest_run[:8]}")],
    )


def _kpis(run: pd.DataFrame) -> list[Kpi]:
    exits = run[run["action"] == "EXIT_POSITION"]
    pnl = exits["pnl"].fillna(0.0)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    equity = run["equity"].astype(float)
    drawdown = float((1 - equity / equity.cummax()).max()) if len(equity) else 0.0
    hours = (run["ts"].max() - run["ts"].min()).total_seconds() / 3600 if len(run) > 1 else 0
    return [
        Kpi(
            label="PnL", value=round(float(pnl.sum()), 2), status="ok" if pnl.sum() >= 0 else "warn"
        ),
        Kpi(label="Win rate", value=round(len(wins) / len(pnl), 3) if len(pnl) else 0.0),
        Kpi(
            label="Profit factor",
            value=round(float(wins.sum() / -losses.sum()), 3) if losses.sum() < 0 else 0.0,
        ),
        Kpi(label="Max drawdown", value=round(drawdown, 5)),
        Kpi(label="Decisions / hour", value=round(len(run) / hours, 1) if hours else len(run)),
        Kpi(label="Positions opened", value=int((run["action"] == "TAKE_ACTION").sum())),
    ]


def _equity(run: pd.DataFrame) -> Chart:
    """Equity after each exit (it moves only on realised PnL), from the run's start."""
    points = pd.concat([run.head(1), run[run["action"] == "EXIT_POSITION"]])
    return Chart(
        id="decisions_equity",
        title="Backtest equity (after each exit)",
        kind="line",
        series=[Series(name="equity", x=column(points, "ts"), y=floats(points["equity"].tolist()))],
        y_title="equity",
    )


def _by_action(run: pd.DataFrame) -> Chart:
    counts = run["action"].value_counts()
    return Chart(
        id="decisions_by_action",
        title="Decisions by action",
        kind="bar",
        series=[
            Series(
                name="decisions",
                x=list(ACTIONS),
                y=floats([int(counts.get(a, 0)) for a in ACTIONS]),
            )
        ],
        x_axis="category",
        y_title="decisions",
        value_scale="log",
    )


def _confidence(run: pd.DataFrame) -> Chart:
    """How many decisions had each anomaly probability (20 bins over [0, 1])."""
    scored = run["probability"].dropna().astype(float).to_numpy()
    counts, edges = np.histogram(scored, bins=20, range=(0.0, 1.0))
    labels = [f"{a:.2f}-{b:.2f}" for a, b in pairwise(edges)]
    return Chart(
        id="decisions_confidence",
        title="Confidence: decisions by the champion's anomaly probability",
        kind="bar",
        series=[Series(name="decisions", x=labels, y=floats(counts.tolist()))],
        x_axis="category",
        x_title="probability",
        y_title="decisions",
        value_scale="log",
    )


def _heat(run: pd.DataFrame) -> Chart:
    """Risk exposure: the portfolio heat factor (open risk over its limit) and the risk
    score at each risk assessment."""
    assessed = run[run["factors"].notna()]
    heat = [json.loads(f).get("heat") for f in assessed["factors"]]
    return Chart(
        id="decisions_exposure",
        title="Risk exposure: portfolio heat (open risk / limit) and risk score per assessment",
        kind="line",
        series=[
            Series(name="heat", x=column(assessed, "ts"), y=floats(heat)),
            Series(
                name="risk score",
                x=column(assessed, "ts"),
                y=floats(assessed["risk_score"].tolist()),
            ),
        ],
        y_range=[0.0, 1.0],
    )


def _latency(full: pd.DataFrame, budgets: dict[str, float]) -> Chart:
    """p50 and p99 of each stage over every served decision (``POST /decide``) against the
    stage's budget."""
    served = full[full["source"] == "serving"] if "latency_ms" in full else full.head(0)
    spans = [json.loads(v) for v in served.get("latency_ms", pd.Series(dtype=str)).dropna()]
    stages = list(budgets)
    series = [Series(name="budget", x=stages, y=floats([budgets[s] for s in stages]))]
    for q in (50, 99):
        values = [np.percentile([d[s] for d in spans if s in d], q) if spans else None
                  for s in stages]  # fmt: skip
        series.append(Series(name=f"p{q}", x=stages, y=floats(values)))
    note = f"{len(spans):,} served decisions" if spans else "no served decision yet"
    return Chart(
        id="decisions_latency",
        title=f"POST /decide latency per stage vs budget, ms ({note})",
        kind="bar",
        series=series,
        x_axis="category",
        y_title="ms",
        value_scale="log",
    )
