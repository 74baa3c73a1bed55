"""Overview: system health, current champion, last job runs, open alerts, table sizes."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from finml.dashboard.extract import ExportContext, coverage, floats, log, rows, scalar, section
from finml.dashboard.schema import Chart, Kpi, Section, Series, Source, Status, TableBlock
from finml.dashboard.sections.drift import drift_rows, worst_window
from finml.vocabulary import AlertSeverity, AlertStatus, RunState

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
        charts.append(_sizes_chart(sizes))
    open_alerts = _open_alerts(ctx)
    failed_runs, runs_table = _last_runs(ctx)
    dq_score = _lowest_dq_score(ctx)
    checks = _checks(ctx, open_alerts, failed_runs, dq_score)
    health, status = _health(checks)
    reasons = [text for _, text in checks] or ["all checks passed"]
    kpis.append(Kpi(label="System health", value=health, status=status, detail=reasons))
    kpis.extend(_champion_kpis(ctx))
    kpis.append(_open_alerts_kpi(open_alerts))
    if dq_score is not None:
        score = dq_score[1]
        kpis.append(Kpi(label="Lowest layer DQ score", value=round(score, 4), status=_dq(score)))
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
    for name in ("alerts", "job_runs", "data_quality_log", "drift_monitoring"):
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
        covers=_covers(ctx, open_alerts, sizes),
    )


def _covers(ctx: ExportContext, open_alerts: pd.DataFrame | None, sizes: dict) -> list[str]:
    lines = [
        f"{coverage('alerts', open_alerts, 'created_at', 'open alerts')}"
        f" (the 24 h before {ctx.now:%Y-%m-%d %H:%M} UTC, not deduplicated)",
        coverage("job_runs", ctx.frame("job_runs"), "start_time", "job runs"),
        f"rows per table: {len(sizes)} tables in {ctx.config.catalog}.{ctx.config.db_schema}",
    ]
    return lines


def _sizes_chart(sizes: dict[str, int]) -> Chart:
    """Rows per table as horizontal bars, largest first, on a log scale (tables differ by
    decades: a linear scale makes the small ones look empty)."""
    ordered = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))
    return Chart(
        id="overview_table_rows",
        title="Rows per table (log scale)",
        kind="bar",
        series=[
            Series(
                name="rows",
                x=[name for name, _ in ordered],
                y=floats([n for _, n in ordered]),
                text=[f"{n:,}" for _, n in ordered],
            )
        ],
        horizontal=True,
        value_scale="log",
        y_title="rows",
    )


def _lowest_dq_score(ctx: ExportContext) -> tuple[str, float] | None:
    """The layer with the lowest latest quality score in ``data_quality_log``, and that
    score (or None)."""
    dq = ctx.frame("data_quality_log")
    if dq is None or not len(dq):
        return None
    latest = dq.sort_values("computed_at").groupby("layer")["quality_score"].last()
    return str(latest.idxmin()), float(latest.min())


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
    # an acknowledged alert is taken: not open (its ``acknowledged`` row is no alert either)
    acked = alerts.loc[alerts["status"] == AlertStatus.ACKNOWLEDGED, "alert_id"]
    closed = alerts["status"].isin([AlertStatus.DEDUPLICATED, AlertStatus.ACKNOWLEDGED])
    recent = alerts[
        (alerts["created_at"] >= since) & ~closed & ~alerts["alert_id"].isin(set(acked))
    ]
    return recent.sort_values("created_at", ascending=False)


def _last_runs(ctx: ExportContext) -> tuple[list[str], TableBlock | None]:
    """The jobs whose last run failed, and the table of each job's last run."""
    runs = ctx.frame("job_runs")
    if runs is None or not len(runs):
        return [], None
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
    return sorted(latest.loc[latest["failed"] > 0, "job"].astype(str)), table


Check = tuple[Status, str]


def _checks(
    ctx: ExportContext,
    open_alerts: pd.DataFrame | None,
    failed_runs: list[str],
    dq_score: tuple[str, float] | None,
) -> list[Check]:
    """The health checks that failed, each with its status and a sentence saying why."""
    found: list[Check] = [("bad", f"job {job} FAILED (last run)") for job in failed_runs]
    if open_alerts is not None and len(open_alerts):
        severity = open_alerts["severity"].astype(str).str.upper()
        urgent = severity.isin([AlertSeverity.CRITICAL.value, AlertSeverity.HIGH.value])
        if urgent.any():
            found.append(("bad", f"{int(urgent.sum())} open HIGH/CRITICAL alerts (24 h)"))
        if (~urgent).any():
            found.append(("warn", f"{int((~urgent).sum())} other open alerts (24 h)"))
    if dq_score is not None and dq_score[1] < 0.95:
        found.append(("warn", f"{dq_score[0]} DQ score {dq_score[1]:.4f} < 0.95"))
    drifting = drift_rows(ctx)
    if drifting is not None:
        day, high = worst_window(drifting)
        if high:
            text = f"{len(high)} HIGH drift columns in window {day} ({', '.join(high[:4])})"
            found.append(("warn", f"{text}; reference: {drifting.label}"))
    return found


def _health(checks: list[Check]) -> tuple[str, Status]:
    """degraded (a failed job or an urgent alert), attention (any other check), healthy."""
    statuses = {status for status, _ in checks}
    if "bad" in statuses:
        return "degraded", "bad"
    if statuses:
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
