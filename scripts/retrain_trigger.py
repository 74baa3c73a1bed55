# Databricks notebook source
"""Task ``retrain_trigger`` (drift_monitoring_workflow): per-window model performance of
``--source`` (predictions) against ``--labels-table`` into ``model_monitoring``, each window an
observation for the retraining trigger (decisions audited in ``retraining_audit``; a trigger
starts the configured retraining action).

Parameters: --catalog --schema --env [--git-sha] [--source predictions|inference_log]
[--labels-table T] [--granularity "1 day"] [--baseline-pr-auc X].
Task value: ``retrain`` (true|false).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import library, task_context
    from finml.bundle.task_values import set_task_value
    from finml.monitoring.actions import action_from_settings
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.monitoring.trigger import RetrainingTrigger

    ctx = task_context(
        argv,
        optional={
            "source": "predictions",
            "labels_table": "test_set",
            "granularity": "1 day",
            "baseline_pr_auc": "",
        },
    )
    run_monitoring = library("finml.jobs.monitoring:run_monitoring")
    settings = MonitoringSettings.from_config(ctx.config)
    tables = ctx.tables()
    result = run_monitoring(
        ctx.config,
        ctx.spark(),
        tables,
        tables.require(ctx.params["source"]).read(),
        tables.require(ctx.params["labels_table"]).read(),
        source=ctx.params["source"],
        granularity=ctx.params["granularity"],
        baseline_metric=ctx.number("baseline_pr_auc") if ctx.params["baseline_pr_auc"] else None,
        trigger=RetrainingTrigger(settings.policy, action_from_settings(settings.action), tables),
        alerts=AlertManager(settings.alerts, tables),
    )
    retrain = any(d.decision == "trigger" for d in result.decisions)
    set_task_value("retrain", "true" if retrain else "false")
    print(result)


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
