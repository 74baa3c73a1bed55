# Databricks notebook source
"""Task ``alert`` (drift_monitoring_workflow, runs whatever happened upstream): re-deliver
the alerts whose webhook delivery failed (to ``--webhook-url`` when given, else the configured
webhooks; the signing secret comes from ``FINML_ALERT_WEBHOOK_SECRET``). The drift and trigger
tasks raise their alerts as they find them.

Parameters: --catalog --schema --env [--git-sha] [--webhook-url URL] [--job-run-id ID].
Task value: ``redelivered``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.settings import MonitoringSettings

    ctx = task_context(argv, optional={"webhook_url": "", "job_run_id": ""})
    settings = MonitoringSettings.from_config(ctx.config).alerts
    if ctx.params["webhook_url"]:
        settings = settings.model_copy(update={"webhooks": [ctx.params["webhook_url"]]})
    manager = AlertManager(settings, ctx.tables(with_spark=False))
    redelivered = manager.retry_failed()
    set_task_value("redelivered", len(redelivered))
    print(f"run {ctx.params['job_run_id']}: re-delivered {len(redelivered)} failed alert(s)")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
