"""``finml drift``, ``finml monitor``, ``finml alerts``: watch data and models, tell people."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console, emit_json, fail
from finml.vocabulary import AlertStatus, DriftSeverity

if TYPE_CHECKING:
    from finml.jobs.monitoring import DriftCheck


def register(app: typer.Typer) -> None:
    app.command(
        epilog="Example: finml drift --scenario --days 20 --drift-day 12   |   "
        "finml drift --reference train_set --current test_set"
    )(drift)
    app.command(epilog="Example: finml monitor --source predictions --labels test_set --dry-run")(
        monitor
    )
    alerts_app = typer.Typer(
        help="List recorded alerts; acknowledge one.", invoke_without_command=True
    )
    alerts_app.callback(
        invoke_without_command=True,
        epilog="Example: finml alerts --status failed --retry-failed   |   "
        "finml alerts list --unacked   |   finml alerts ack 3f2a... --by alice",
    )(alerts)
    alerts_app.command("list", epilog="Example: finml alerts list --unacked --json")(list_alerts)
    alerts_app.command(
        "ack", epilog='Example: finml alerts ack 3f2a9c0e... --by alice --note "retraining"'
    )(ack)
    app.add_typer(alerts_app, name="alerts")


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def drift(
    ctx: typer.Context,
    scenario: Annotated[
        bool, typer.Option("--scenario", help="Check the simulator's drift scenario (no Spark).")
    ] = False,
    reference: Annotated[str | None, typer.Option(help="Reference (baseline) table.")] = None,
    current: Annotated[str | None, typer.Option(help="Current table to check.")] = None,
    window: Annotated[str | None, typer.Option(help="Window column (date/timestamp).")] = None,
    granularity: Annotated[str, typer.Option(help="Window length, e.g. '1 day'.")] = "1 day",
    columns: Annotated[str | None, typer.Option(help="Comma-separated columns.")] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated categoricals.")] = None,
    days: Annotated[int, typer.Option(min=2, help="Scenario: trading days.")] = 20,
    drift_day: Annotated[int, typer.Option(min=0, help="Scenario: drift start (0: none).")] = 12,
    seed: Annotated[int, typer.Option(help="Scenario: random seed.")] = 7,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write drift_monitoring.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """Check feature drift (PSI, JS distance, KS, Wasserstein, chi-squared) per window."""
    if scenario == bool(reference or current):
        fail("drift: expected either --scenario or --reference and --current, got both or none", 2)
    from finml.jobs.monitoring import run_drift_check, run_drift_scenario
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    state: State = ctx.obj
    config = state.config
    settings = MonitoringSettings.from_config(config)
    with console.status("checking drift..."):
        if scenario:
            tables = state.tables() if write else None
            manager = AlertManager(settings.alerts, tables, secrets=config.secrets)
            check = run_drift_scenario(
                config, tables, days=days, drift_day=drift_day or None, seed=seed, alerts=manager
            )
        else:
            if not (reference and current):
                fail("drift: expected both --reference and --current tables", 2)
            state.require_tables(reference, current)
            tables = state.tables(with_spark=True)
            ref = tables.require(reference).read()
            cur = tables.require(current).read()
            check = run_drift_check(
                config,
                state.spark(),
                tables if write else None,
                ref,
                cur,
                window,
                granularity=granularity,
                columns=_split(columns),
                categorical=_split(categorical) or (),
                alerts=AlertManager(
                    settings.alerts, tables if write else None, secrets=config.secrets
                ),
            )
    _print_check(check, as_json)


_SEVERITY_STYLE = {DriftSeverity.HIGH: "bold red", DriftSeverity.MEDIUM: "yellow"}


def _print_check(check: DriftCheck, as_json: bool) -> None:
    if as_json:
        emit_json([row for r in check.reports for row in r.to_records(check.run_id)])
        return
    table = RichTable(
        "window", "column", "psi", "js_distance", "ks", "wasserstein", "severity",
        title=f"Drift (run {check.run_id[:8]}): {len(check.flagged)}/{len(check.reports)} "
        f"windows flagged, worst {check.severity}",
    )  # fmt: skip
    for report in check.reports:
        for c in report.columns:
            style = _SEVERITY_STYLE.get(c.severity)
            table.add_row(
                str(report.window),
                c.column_name,
                f"{c.population_stability_index:.4f}",
                f"{c.js_distance:.4f}",
                f"{c.ks_statistic:.4f}",
                f"{c.wasserstein_distance:.4f}",
                str(c.severity),
                style=style,
            )
    console.print(table)
    fired = [a for a in check.alerts if a["status"] != "deduplicated"]
    console.print(f"alerts raised: {len(fired)}")


def monitor(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Option(help="Scored table: predictions or inference_log.")
    ] = "predictions",
    labels: Annotated[str, typer.Option(help="Table with trade_id and label.")] = "test_set",
    granularity: Annotated[str, typer.Option(help="Window length, e.g. '1 day'.")] = "1 day",
    baseline_pr_auc: Annotated[
        float | None, typer.Option(help="PR-AUC at training time (performance condition).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and audit, but do not start a retrain.")
    ] = False,
) -> None:
    """Per-window model performance -> model_monitoring; retraining decision -> audit."""
    from finml.jobs.monitoring import run_monitoring
    from finml.jobs.retrain_action import local_job_action
    from finml.monitoring.actions import action_from_settings
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.monitoring.trigger import RetrainingTrigger

    if source not in ("predictions", "inference_log"):
        fail(f"--source: expected predictions or inference_log, got {source!r}", 2)
    state: State = ctx.obj
    settings = MonitoringSettings.from_config(state.config)
    state.require_tables(source, labels)
    tables = state.tables(with_spark=True)
    local_job = local_job_action(state.config)
    action = None if dry_run else action_from_settings(settings.action, local_job)
    with console.status("computing model performance..."):
        result = run_monitoring(
            state.config,
            state.spark(),
            tables,
            tables.require(source).read(),
            tables.require(labels).read(),
            source=source,  # type: ignore[arg-type]
            granularity=granularity,
            baseline_metric=baseline_pr_auc,
            trigger=RetrainingTrigger(settings.policy, action, tables),
            alerts=AlertManager(settings.alerts, tables),
        )
    console.print(str(result))


def alerts(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show, newest first.")] = 20,
    status: Annotated[AlertStatus | None, typer.Option(help="Only this status.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Re-deliver failed alerts first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """List recorded alerts (and optionally retry failed deliveries); acknowledge one."""
    if ctx.invoked_subcommand is not None:
        return
    list_alerts(ctx, limit=limit, status=status, retry_failed=retry_failed, as_json=as_json)


def list_alerts(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show, newest first.")] = 20,
    status: Annotated[AlertStatus | None, typer.Option(help="Only this status.")] = None,
    unacked: Annotated[
        bool, typer.Option("--unacked", help="Only alerts nobody acknowledged.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Re-deliver failed alerts first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
) -> None:
    """List recorded alerts, newest first: one row per alert and destination."""
    from finml.monitoring.alerts import AlertManager, alert_rows
    from finml.monitoring.settings import MonitoringSettings

    state: State = ctx.obj
    tables = state.tables()
    if retry_failed:
        manager = AlertManager(MonitoringSettings.from_config(state.config).alerts, tables)
        retried = manager.retry_failed()
        console.print(f"retried {len(retried)} failed deliveries")
    rows = alert_rows(tables, status=status, unacked=unacked, limit=limit)
    if as_json:
        emit_json(rows)
        return
    out = RichTable(
        "created_at", "alert_id", "type", "severity", "status", "attempts", "title", "error / ack"
    )
    for r in rows:
        escalated = " ↑" if r.get("escalated") else ""
        out.add_row(
            f"{r['created_at']:%Y-%m-%d %H:%M:%S}",
            r["alert_id"],
            r["alert_type"],
            r["severity"] + escalated,
            r["status"],
            str(r["attempts"]),
            r["title"],
            _note(r),
        )
    console.print(out)


def _note(row: dict[str, Any]) -> str:
    if row["status"] == AlertStatus.ACKNOWLEDGED:
        return f"by {row.get('acknowledged_by')}" + (
            f": {row['ack_note']}" if row.get("ack_note") else ""
        )
    return (row["last_error"] or "")[:40]


def ack(
    ctx: typer.Context,
    alert_id: Annotated[str, typer.Argument(help="The alert's id (see `finml alerts list`).")],
    by: Annotated[str | None, typer.Option("--by", help="Who takes it (default: $USER).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, or what is done.")] = None,
) -> None:
    """Acknowledge an alert: kept in the alerts table; its repeats stop escalating."""
    from finml.monitoring.alerts import acknowledge

    state: State = ctx.obj
    who = by or os.environ.get("USER") or "unknown"
    done = acknowledge(state.tables(), alert_id, who, note)
    if done.new:
        console.print(f"acknowledged {alert_id} by {done.by}")
    else:
        console.print(
            f"{alert_id} was already acknowledged by {done.by} at {done.at:%Y-%m-%d %H:%M:%S} UTC"
        )
