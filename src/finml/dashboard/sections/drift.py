"""Drift: PSI and Jensen-Shannon distance per feature over time, latest severity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from finml.dashboard.extract import (
    ExportContext,
    floats,
    missing,
    newest,
    rows,
    scalar,
    section,
    spec,
    window_end,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, Status, TableBlock
from finml.vocabulary import DriftSeverity

if TYPE_CHECKING:
    import pandas as pd

SPEC_ID = "drift"
TABLE = "drift_monitoring"
_SEVERITY_STATUS: dict[str, Status] = {
    DriftSeverity.NONE: "ok",
    DriftSeverity.MEDIUM: "warn",
    DriftSeverity.HIGH: "bad",
}


@section(SPEC_ID, "Feature drift", order=40, hint="finml drift")
def drift(ctx: ExportContext) -> Section:
    """From ``drift_monitoring`` (one row per window and column)."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    frame = ctx.require(TABLE).copy()
    frame["window_end"] = window_end(frame)
    frame = newest(frame, "window_end")
    charts = [
        _metric_chart(
            frame,
            "drift_psi",
            "Population stability index per feature",
            "population_stability_index",
            "PSI",
        ),
        _metric_chart(
            frame, "drift_js", "Jensen-Shannon distance per feature", "js_distance", "JS distance"
        ),
    ]
    latest = frame[frame["window_end"] == frame["window_end"].max()]
    latest = latest.sort_values("population_stability_index", ascending=False)
    kpis = _kpis(frame, latest)
    cols = [
        "column_name",
        "population_stability_index",
        "js_distance",
        "wasserstein_distance",
        "count_current",
        "severity",
    ]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(TABLE)],
        kpis=kpis,
        charts=charts,
        tables=[
            TableBlock(
                id="drift_latest",
                title="Latest window: severity per feature",
                columns=cols,
                rows=rows(latest, cols),
            )
        ],
    )


def _kpis(frame: pd.DataFrame, latest: pd.DataFrame) -> list[Kpi]:
    """Latest window end, its worst severity, features drifting and monitored."""
    severities = latest["severity"].fillna(DriftSeverity.NONE.value).astype(str).str.upper()
    worst = max(
        severities,
        key=lambda s: DriftSeverity(s).rank if s in _SEVERITY_STATUS else 0,
        default=DriftSeverity.NONE.value,
    )
    return [
        Kpi(label="Latest window end", value=scalar(latest["window_end"].iloc[0])),
        Kpi(label="Worst severity", value=worst, status=_SEVERITY_STATUS.get(worst, "info")),
        Kpi(
            label="Features drifting",
            value=int((severities != DriftSeverity.NONE).sum()),
            status="warn" if (severities != DriftSeverity.NONE).any() else "ok",
        ),
        Kpi(label="Features monitored", value=int(frame["column_name"].nunique())),
    ]


def _metric_chart(frame, chart_id: str, title: str, metric: str, y_title: str) -> Chart:
    series = []
    for name, g in frame.groupby("column_name", sort=True):
        x = [scalar(v) for v in g["window_end"].tolist()]
        series.append(Series(name=str(name), x=x, y=floats(g[metric].tolist())))
    return Chart(
        id=chart_id, title=title, kind="line", series=series, y_title=y_title, x_title="window end"
    )
