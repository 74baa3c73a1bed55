"""Data quality: score per layer over time, rule failures over time, quarantine counts."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    column,
    coverage,
    missing,
    newest,
    rows,
    section,
    series_by,
    spec,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, Status, TableBlock

SPEC_ID = "data_quality"
DQ, QUARANTINE = "data_quality_log", "silver_quarantine"


@section(SPEC_ID, "Data quality", order=30, hint="finml pipeline run")
def data_quality(ctx: ExportContext) -> Section:
    """From ``data_quality_log`` (one row per layer and run) and ``silver_quarantine``."""
    if (state := missing(ctx, SPEC_ID, DQ, QUARANTINE)) is not None:
        return state
    kpis: list[Kpi] = []
    charts: list[Chart] = []
    tables: list[TableBlock] = []
    dq = ctx.frame(DQ)
    if dq is not None and len(dq):
        _add_quality_log(dq, kpis, charts, tables)
    quarantine = ctx.frame(QUARANTINE)
    if quarantine is not None and len(quarantine):
        _add_quarantine(quarantine, kpis, tables)
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=[ctx.source(DQ), ctx.source(QUARANTINE)],
        covers=[
            coverage(DQ, dq, "computed_at", "layer runs")
            + (f" ({dq['run_id'].nunique()} pipeline runs)" if dq is not None and len(dq) else ""),
            coverage(QUARANTINE, quarantine, None, "quarantined rows (all runs)"),
        ],
    )


def _add_quality_log(
    dq: pd.DataFrame, kpis: list[Kpi], charts: list[Chart], tables: list[TableBlock]
) -> None:
    """Each layer's latest score, the score, rule failure and quarantine charts per run, and
    the latest runs, from ``data_quality_log``."""
    # one x per pipeline run: its layers are logged milliseconds apart, which would
    # otherwise spread one run over a millisecond-wide time axis
    run_at = dq.groupby("run_id")["computed_at"].transform("min").dt.floor("s")
    dq = newest(dq.assign(computed_at=run_at), "computed_at")
    for layer, g in dq.groupby("layer", sort=False):
        score = float(g["quality_score"].iloc[-1])
        status: Status = "ok" if score >= 0.99 else "warn" if score >= 0.95 else "bad"
        kpis.append(Kpi(label=f"{layer} score", value=round(score, 4), status=status))
    charts.append(
        Chart(
            id="dq_score_by_layer",
            title="Quality score per layer",
            kind="line",
            series=series_by(dq, "layer", "computed_at", "quality_score"),
            y_title="score",
        )
    )
    charts.append(_rule_failures(dq))
    charts.append(
        Chart(
            id="dq_quarantined",
            title="Rows quarantined per run",
            kind="stacked_bar",
            series=series_by(dq, "table_name", "computed_at", "rows_quarantined"),
            y_title="rows",
        )
    )
    cols = [
        "computed_at",
        "layer",
        "table_name",
        "rows_in",
        "rows_out",
        "rows_quarantined",
        "duplicates_removed",
        "quality_score",
    ]
    latest = dq.sort_values("computed_at", ascending=False)
    tables.append(
        TableBlock(
            id="dq_runs", title="Latest quality runs", columns=cols, rows=rows(latest, cols, 30)
        )
    )


def _add_quarantine(quarantine: pd.DataFrame, kpis: list[Kpi], tables: list[TableBlock]) -> None:
    """The quarantined rows' count and their count per failed rule."""
    kpis.append(Kpi(label="Quarantined rows", value=len(quarantine), status="warn"))
    counts = Counter(
        rule for rules in quarantine["_failed_rules"] if rules is not None for rule in rules
    )
    meaning = _rule_meanings()
    tables.append(
        TableBlock(
            id="dq_quarantine_rules",
            title="Quarantine by failed rule",
            columns=["rule", "rows", "rule says"],
            rows=[[r, n, meaning.get(r, "")] for r, n in counts.most_common()],
        )
    )


def _rule_meanings() -> dict[str, str]:
    """Each silver trade rule's description (else its condition), from its contract."""
    from finml.pipelines.contracts import SILVER_TRADES

    return {r.name: r.description or r.condition for r in SILVER_TRADES.expectations}


def _rule_failures(dq: pd.DataFrame) -> Chart:
    """One bar trace per rule: failures summed over tables per run time."""
    per_rule: dict[str, dict[str, float]] = {}
    times = column(dq, "computed_at")
    for when, failures in zip(times, dq["rule_failures"].tolist(), strict=True):
        for rule, n in dict(failures or []).items():
            per_rule.setdefault(rule, {}).setdefault(when, 0.0)
            per_rule[rule][when] += float(n)
    order = sorted(set(times))
    series = [
        Series(name=rule, x=order, y=[by_time.get(t, 0.0) for t in order])
        for rule, by_time in sorted(per_rule.items())
    ]
    if not series:
        series = [Series(name="no failures", x=order, y=[0.0] * len(order))]
    return Chart(
        id="dq_rule_failures",
        title="Rule failures over time",
        kind="stacked_bar",
        series=series,
        y_title="rows failing",
    )
