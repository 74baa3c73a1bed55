"""Alerts feed: newest first, and alerts per day by severity."""

from __future__ import annotations

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    spec,
)
from finml.dashboard.schema import Chart, ChartFilter, Kpi, Section, Series, TableBlock, TableFilter
from finml.vocabulary import AlertStatus

SPEC_ID = "alerts"
TABLE = "alerts"
FEED_LIMIT = 100


@section(SPEC_ID, "Alerts", order=50, hint="finml drift (alerts are raised by monitoring)")
def alerts(ctx: ExportContext) -> Section:
    """From the ``alerts`` table (one row per alert and delivery outcome)."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    table = ctx.require(TABLE)
    # an acknowledgement is a row of the table but not an alert: counted apart
    acked = table["status"] == AlertStatus.ACKNOWLEDGED
    full = table[~acked]
    frame = newest(full, "created_at").sort_values("created_at", ascending=False)
    frame["day"] = frame["created_at"].dt.strftime("%Y-%m-%d")
    days = sorted(frame["day"].unique())
    per_day = frame.groupby(["severity", "day"]).size()
    series = [
        Series(name=str(sev), x=list(days), y=floats([per_day.get((sev, d), 0) for d in days]))
        for sev in sorted(frame["severity"].dropna().unique())
    ]
    failed = int((full["status"] == "failed").sum())
    kpis = [
        Kpi(label="Alerts", value=len(full)),
        Kpi(label="Latest", value=str(frame["title"].iloc[0])),
        Kpi(label="Delivery failures", value=failed, status="bad" if failed else "ok"),
        Kpi(label="Acknowledged", value=int(acked.sum())),
    ]
    cols = ["created_at", "severity", "alert_type", "title", "message", "status", "destination"]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(TABLE)],
        kpis=kpis,
        charts=[
            Chart(
                id="alerts_per_day",
                title="Alerts per day by severity",
                kind="stacked_bar",
                series=series,
                y_title="alerts",
                x_title="day (UTC)",
                x_axis="day",
                filter=ChartFilter(x_dates=True),
            )
        ],
        tables=[
            TableBlock(
                id="alerts_feed",
                title="Alert feed (newest first)",
                columns=cols,
                rows=rows(frame, cols, FEED_LIMIT),
                filter=TableFilter(date="created_at"),
            )
        ],
        covers=[
            coverage(TABLE, full, "created_at", "alerts (every delivery outcome)"),
            f"feed: newest {min(FEED_LIMIT, len(frame))}; chart: {len(days)} days",
        ],
    )
