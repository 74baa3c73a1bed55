# Databricks notebook source
"""Task ``performance`` (drift_monitoring_workflow): live metrics (PR-AUC, ROC-AUC, precision,
recall, F1, Brier) per trading day and model version of ``predictions`` joined with
``trade_labels``, for the days that ended by ``--as-of`` and were not counted yet, into
``model_monitoring``; a PERFORMANCE alert per day whose PR-AUC fell more than the policy's
``max_metric_drop`` below the version's validation PR-AUC.

Parameters: --catalog --schema --env [--git-sha] [--as-of ISO-8601] (default now; the job
passes its trigger time).
Task value: ``windows`` (days counted by this run).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.production import run_production_performance
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    ctx = task_context(argv, optional={"as_of": ""})
    tables = ctx.tables()
    records = run_production_performance(
        ctx.config,
        ctx.spark(),
        tables,
        as_of=ctx.instant("as_of"),
        alerts=AlertManager(MonitoringSettings.from_config(ctx.config).alerts, tables),
    )
    set_task_value("windows", len(records))
    for rec in records:
        pr = rec["pr_auc"]
        print(
            f"{rec['window']['start']:%Y-%m-%d} {rec['model_name']} v{rec['model_version']}: "
            f"n={rec['count']} pr_auc={'n/a' if pr is None else f'{pr:.3f}'}"
        )


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
