# Databricks notebook source
"""Task ``drift`` (drift_monitoring_workflow): drift (PSI, Jensen-Shannon, KS, Wasserstein)
into ``drift_monitoring``; flagged windows raise DRIFT alerts.

Production (the scheduled job, ``--as-of`` its trigger time): each trading day that ended by
then and that the champion scored, not checked yet, against the champion's training data
pinned by its lineage (feature-table version and data window) -- the features and the
champion's scores (prediction drift). Ad hoc (``--reference-table`` / ``--current-table``):
one table against another, per ``--window`` column or as a whole.

Parameters: --catalog --schema --env [--git-sha] [--as-of ISO-8601]
[--reference-table T --current-table T [--window DATE_COLUMN] [--granularity "1 day"]].
Task values: ``severity`` (worst), ``flagged`` (windows).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    ctx = task_context(
        argv,
        optional={
            "as_of": "",
            "reference_table": "",
            "current_table": "",
            "window": "",
            "granularity": "1 day",
        },
    )
    tables = ctx.tables()
    alerts = AlertManager(MonitoringSettings.from_config(ctx.config).alerts, tables)
    if ctx.params["reference_table"] or ctx.params["current_table"]:
        from finml.jobs.monitoring import run_drift_check

        check = run_drift_check(
            ctx.config,
            ctx.spark(),
            tables,
            tables.require(ctx.params["reference_table"] or "train_set").read(),
            tables.require(ctx.params["current_table"] or "test_set").read(),
            ctx.params["window"] or None,
            granularity=ctx.params["granularity"],
            alerts=alerts,
        )
    else:
        from finml.jobs.production import run_production_drift

        check = run_production_drift(
            ctx.config, ctx.spark(), tables, as_of=ctx.instant("as_of"), alerts=alerts
        )
    set_task_value("severity", str(check.severity))
    set_task_value("flagged", len(check.flagged))
    print(check)


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
