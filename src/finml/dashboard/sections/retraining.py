"""Retraining and A/B tests: trigger decisions, A/B results, live model performance."""

from __future__ import annotations

from finml.dashboard.extract import (
    ExportContext,
    column,
    floats,
    missing,
    newest,
    rows,
    section,
    series_by,
    spec,
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
        charts.append(
            Chart(
                id="retraining_windows",
                title="Retraining checks: violating windows",
                kind="bar",
                series=series_by(audit, "decision", "decided_at", "violating_windows"),
                y_title="violating windows",
            )
        )
        cols = [
            "decided_at",
            "decision",
            "reason",
            "violating_windows",
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
    )


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
        )
    )
