"""Job runs: durations and outcomes of the bundle's local job runs (``job_runs``)."""

from __future__ import annotations

from finml.dashboard.extract import (
    ExportContext,
    column,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    spec,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, TableBlock
from finml.vocabulary import RunState

SPEC_ID = "job_runs"
TABLE = "job_runs"


@section(SPEC_ID, "Job runs", order=80, hint="finml job run <job> --target local")
def job_runs(ctx: ExportContext) -> Section:
    """One row per task attempt in ``job_runs``."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    full = ctx.require(TABLE).sort_values("start_time")
    frame = newest(full, "start_time")
    ok = full["state"] == RunState.SUCCESS
    rate = float(ok.mean())
    kpis = [
        Kpi(label="Task attempts", value=len(full)),
        Kpi(
            label="Success rate",
            value=round(rate * 100, 1),
            unit="%",
            status="ok" if rate == 1 else "warn" if rate >= 0.9 else "bad",
        ),
        Kpi(label="Jobs", value=int(full["job"].nunique())),
        Kpi(label="Last run", value=column(frame.tail(1), "start_time")[0]),
    ]
    series = [
        Series(
            name=str(state),
            x=[f"{j}.{t}" for j, t in zip(g["job"], g["task"], strict=True)],
            y=floats(g["seconds"].tolist()),
        )
        for state, g in frame.groupby("state", sort=True)
    ]
    cols = ["start_time", "job", "task", "attempt", "state", "seconds", "exit_code", "message"]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(TABLE)],
        kpis=kpis,
        charts=[
            Chart(
                id="job_task_seconds",
                title="Task durations by outcome",
                kind="bar",
                series=series,
                y_title="seconds",
            )
        ],
        tables=[
            TableBlock(
                id="job_runs_table",
                title="Task attempts (newest first)",
                columns=cols,
                rows=rows(frame.sort_values("start_time", ascending=False), cols),
            )
        ],
        covers=[
            coverage(TABLE, full, "start_time", "task attempts")
            + f" ({full['run_id'].nunique()} runs of {full['job'].nunique()} jobs)"
        ],
    )
