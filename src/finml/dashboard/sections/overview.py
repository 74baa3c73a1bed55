"""Overview: system health, current champion, last job runs, open alerts, table sizes."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from finml.dashboard.extract import ExportContext, floats, log, rows, scalar, section
from finml.dashboard.schema import Chart, Kpi, Section, Series, Source, Status, TableBlock
from finml.vocabulary import AlertSeverity, RunState

SPEC_ID = "overview"
OPEN_ALERT_WINDOW = timedelta(hours=24)
_LAYERS = ("bronze_", "silver_", "gold_")


@section(SPEC_ID, "Overview", order=10, hint="finml demo")
def overview(ctx: ExportContext) -> Section:
    """Health from alerts, job runs and data quality; champion from the MLflow registry;
    row counts of every table in the schema."""
    kpis, tables, charts, sources = [], [], [], []
    sizes = _table_sizes(ctx)
    if sizes:
        charts.append(
            Chart(
                id="overview_table_rows",
                title="Rows per table",
                kind="bar",
                series=[Series(name="rows", x=list(sizes), y=floats(list(sizes.values())))],
                y_title="rows",
            )
        )
    open_alerts = _open_alerts(ctx)
    failed_runs, runs_table = _last_runs(ctx)
    dq_score = _lowest_dq_score(ctx)
    health, status = _health(open_alerts, failed_runs, dq_score)
    kpis.append(Kpi(label="System health", value=health, status=status))
    kpis.extend(_champion_kpis(ctx))
    kpis.append(_open_alerts_kpi(open_alerts))
    if dq_score is not None:
        kpis.append(
            Kpi(label="Lowest layer DQ score", value=round(dq_score, 4), status=_dq(dq_score))
        )
    if runs_table is not None:
        tables.append(runs_table)
    if open_alerts is not None and len(open_alerts):
        cols = ["created_at", "severity", "alert_type", "title", "status"]
        tables.append(
            TableBlock(
                id="overview_open_alerts",
                title="Open alerts",
                columns=cols,
                rows=rows(open_alerts, cols, 10),
            )
        )
    for name in ("alerts", "job_runs", "data_quality_log"):
        sources.append(ctx.source(name))
    sources.append(Source(name="tables in schema", exists=bool(sizes), rows=len(sizes)))
    return Section(
        id=SPEC_ID,
        title="Overview",
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=sources,
    )


def _lowest_dq_score(ctx: ExportContext) -> float | None:
    """The lowest of the layers' latest quality scores in ``data_quality_log`` (or None)."""
    dq = ctx.frame("data_quality_log")
    dq_score = None
    if dq is not None and len(dq):
        dq_score = float(
            dq.sort_values("computed_at").groupby("layer")["quality_score"].last().min()
        )
    return dq_score


def _open_alerts_kpi(open_alerts: pd.DataFrame | None) -> Kpi:
    return Kpi(
        label="Open alerts (24 h)",
        value=len(open_alerts) if open_alerts is not None else "n/a",
        status="warn" if open_alerts is not None and len(open_alerts) else "info",
    )


def _table_sizes(ctx: ExportContext) -> dict[str, int]:
    sizes = {}
    for table in ctx.tables.list():
        try:
            sizes[table.name.table] = table.count()
        except Exception as exc:  # a table mid-write still lists; show the others
            log.warning("dashboard_count_failed", table=str(table.name), error=repr(exc))
    return sizes


def _open_alerts(ctx: ExportContext) -> pd.DataFrame | None:
    alerts = ctx.frame("alerts")
    if alerts is None:
        return None
    since = pd.Timestamp(ctx.now - OPEN_ALERT_WINDOW)
    recent = alerts[(alerts["created_at"] >= since) & (alerts["status"] != "deduplicated")]
    return recent.sort_values("created_at", ascending=False)


def _last_runs(ctx: ExportContext) -> tuple[int, TableBlock | None]:
    runs = ctx.frame("job_runs")
    if runs is None or not len(runs):
        return 0, None
    # vectorised flag: a lambda per group is ~1 ms, seconds on a long job history
    runs = runs.assign(_failed=(runs["state"] != RunState.SUCCESS).astype(int))
    by_run = (
        runs.groupby(["run_id", "job"], as_index=False)
        .agg(
            started=("start_time", "min"),
            ended=("end_time", "max"),
            seconds=("seconds", "sum"),
            tasks=("task", "nunique"),
            failed=("_failed", "sum"),
        )
        .sort_values("started", ascending=False)
    )
    latest = by_run.drop_duplicates("job")
    cols = ["job", "started", "seconds", "tasks", "failed"]
    table = TableBlock(
        id="overview_last_runs",
        title="Last run of each job",
        columns=cols,
        rows=rows(latest, cols, 20),
    )
    return int((latest["failed"] > 0).sum()), table


def _health(
    open_alerts: pd.DataFrame | None, failed_runs: int, dq_score: float | None
) -> tuple[str, Status]:
    critical = 0
    if open_alerts is not None and len(open_alerts):
        critical = int(
            open_alerts["severity"]
            .astype(str)
            .str.upper()
            .isin([AlertSeverity.CRITICAL.value, AlertSeverity.HIGH.value])
            .sum()
        )
    if critical or failed_runs:
        return "degraded", "bad"
    if (dq_score is not None and dq_score < 0.95) or (open_alerts is not None and len(open_alerts)):
        return "attention", "warn"
    return "healthy", "ok"


def _dq(score: float) -> Status:
    return "ok" if score >= 0.99 else "warn" if score >= 0.95 else "bad"


def _champion_kpis(ctx: ExportContext) -> list[Kpi]:
    versions = ctx.model_versions("anomaly_model")
    if versions is None:
        return [Kpi(label="Champion model", value="no MLflow store", status="info")]
    champion = next((v for v in versions if "champion" in v.aliases), None)
    if champion is None:
        return [Kpi(label="Champion model", value="none yet", status="warn")]
    kpis = [Kpi(label="Champion model", value=f"v{champion.version}", status="ok")]
    metric = champion.tags.get("finml.metric.pr_auc")
    if metric is not None:
        kpis.append(Kpi(label="Champion holdout PR-AUC", value=scalar(float(metric))))
    candidate = champion.tags.get("finml.candidate")
    if candidate:
        kpis.append(Kpi(label="Champion candidate", value=candidate))
    return kpis
