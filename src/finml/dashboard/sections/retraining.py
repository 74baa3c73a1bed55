"""Retraining and A/B tests: trigger decisions, A/B results, live model performance."""

from __future__ import annotations

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    column,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    series_by,
    spec,
    utc_day,
    window_end,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, TableBlock
from finml.vocabulary import RetrainDecision

SPEC_ID = "retraining"
RETRAIN, AB, PERF = "retraining_audit", "ab_tests", "model_monitoring"


@section(
    SPEC_ID,
    "Retraining & A/B tests",
    order=70,
    hint="finml monitor && finml ab-report --labels test_set",
)
def retraining(ctx: ExportContext) -> Section:
    """From ``retraining_audit``, ``ab_tests`` and ``model_monitoring``."""
    if (state := missing(ctx, SPEC_ID, RETRAIN, AB, PERF)) is not None:
        return state
    kpis: list[Kpi] = []
    charts: list[Chart] = []
    tables: list[TableBlock] = []
    audit = ctx.frame(RETRAIN)
    if audit is not None and len(audit):
        audit = newest(audit, "decided_at")
        triggers = audit[audit["decision"] == RetrainDecision.TRIGGER]
        kpis.append(
            Kpi(
                label="Retraining triggers",
                value=len(triggers),
                status="warn" if len(triggers) else "ok",
            )
        )
        kpis.append(Kpi(label="Last decision", value=str(audit["decision"].iloc[-1])))
        charts.append(_checks_per_day(audit))
        cols = [
            "decided_at",
            "decision",
            "reason",
            "violating_windows",
            "window_count",
            "new_samples",
            "action",
            "action_status",
        ]
        tables.append(
            TableBlock(
                id="retraining_decisions",
                title="Retraining decisions",
                columns=cols,
                rows=rows(audit.sort_values("decided_at", ascending=False), cols, 50),
            )
        )
    _ab(ctx, kpis, charts, tables)
    _performance(ctx, charts)
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=[ctx.source(n) for n in (RETRAIN, AB, PERF)],
        covers=[
            coverage(RETRAIN, ctx.frame(RETRAIN), "decided_at", "decisions"),
            coverage(AB, ctx.frame(AB), "analyzed_at", "A/B analyses"),
            coverage(PERF, _with_end(ctx.frame(PERF)), "window_end", "model windows")
            + " (window ends)",
        ],
    )


def _with_end(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None else frame.assign(window_end=window_end(frame))


def _checks_per_day(audit: pd.DataFrame) -> Chart:
    """Retraining checks per UTC day by decision; each bar's hover text is the reason of
    the day's last decision of that kind (why a skip next to a drift is a skip)."""
    audit = audit.assign(day=utc_day(audit["decided_at"]))
    days = sorted(audit["day"].unique())
    series = []
    for decision, g in audit.groupby("decision", sort=True):
        per_day = g.groupby("day")
        counts, reasons = per_day.size(), per_day["reason"].last()
        series.append(
            Series(
                name=str(decision),
                x=list(days),
                y=floats([counts.get(d, 0) for d in days]),
                text=[_reason(decision, reasons.get(d)) for d in days],
            )
        )
    return Chart(
        id="retraining_windows",
        title="Retraining checks per day by decision (hover: reason)",
        kind="stacked_bar",
        series=series,
        y_title="checks",
        x_title="day (UTC)",
        x_axis="day",
    )


def _reason(decision: object, reason: object) -> str | None:
    if reason is None or (isinstance(reason, float) and pd.isna(reason)):
        return None
    return f"{decision}: {reason}"


def _ab(ctx: ExportContext, kpis: list, charts: list, tables: list) -> None:
    ab = ctx.frame(AB)
    if ab is None or not len(ab):
        return
    ab = newest(ab, "analyzed_at")
    kpis.append(Kpi(label="Last A/B decision", value=str(ab["decision"].iloc[-1])))
    x = column(ab, "analyzed_at")
    charts.append(
        Chart(
            id="ab_precision",
            title="A/B tests: precision and recall per variant",
            kind="line",
            y_range=[0.0, 1.0],
            series=[
                Series(name=f"{who} {m}", x=x, y=floats(ab[f"{who}_{m}"].tolist()))
                for who in ("champion", "challenger")
                for m in ("precision", "recall")
            ],
            y_title="rate",
        )
    )
    cols = [
        "analyzed_at",
        "champion_versions",
        "challenger_versions",
        "challenger_variant",
        "metric",
        "champion_n",
        "challenger_n",
        "precision_p_value",
        "recall_p_value",
        "decision",
        "reason",
    ]
    tables.append(
        TableBlock(
            id="ab_tests_table",
            title="A/B tests",
            columns=cols,
            rows=rows(ab.sort_values("analyzed_at", ascending=False), cols),
        )
    )


def _performance(ctx: ExportContext, charts: list) -> None:
    perf = ctx.frame(PERF)
    if perf is None or not len(perf):
        return
    perf = perf.copy()
    perf["window_end"] = window_end(perf)
    perf = newest(perf, "window_end")
    charts.append(
        Chart(
            id="model_performance",
            title="Live model performance (PR-AUC per window)",
            kind="line",
            series=series_by(perf, "model_version", "window_end", "pr_auc", lambda v: f"v{v}"),
            y_title="PR-AUC",
            x_title="window end",
            x_axis="day",
            y_range=[0.0, 1.0],
        )
    )
