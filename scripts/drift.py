# Databricks notebook source
"""Task ``drift`` (drift_monitoring_workflow): feature drift (PSI, Jensen-Shannon, KS,
Wasserstein) of ``--current-table`` per ``--window`` against ``--reference-table``, written to
``drift_monitoring``; flagged windows raise DRIFT alerts.

Parameters: --catalog --schema --env [--git-sha] [--reference-table T] [--current-table T]
[--window DATE_COLUMN] [--granularity "1 day"] (default: the current table as one window).
Task values: ``severity``, ``flagged`` (windows).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import library, task_context
    from finml.bundle.task_values import set_task_value
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    ctx = task_context(
        argv,
        optional={
            "reference_table": "train_set",
            "current_table": "test_set",
            "window": "",
            "granularity": "1 day",
        },
    )
    run_drift_check = library("finml.jobs.monitoring:run_drift_check")
    tables = ctx.tables()
    alerts = AlertManager(MonitoringSettings.from_config(ctx.config).alerts, tables)
    check = run_drift_check(
        ctx.config,
        ctx.spark(),
        tables,
        tables.require(ctx.params["reference_table"]).read(),
        tables.require(ctx.params["current_table"]).read(),
        ctx.params["window"] or None,
        granularity=ctx.params["granularity"],
        alerts=alerts,
    )
    set_task_value("severity", str(check.severity))
    set_task_value("flagged", len(check.flagged))
    print(check)


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
