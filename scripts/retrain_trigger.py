# Databricks notebook source
"""Task ``retrain_trigger`` (drift_monitoring_workflow): one observation per monitoring
window not observed yet -- the champion's live PR-AUC (``model_monitoring``) against its
validation PR-AUC, the window's drift severity (``drift_monitoring``), the latest
data-quality score (``data_quality_log``) -- for the retraining trigger (N of M windows per
signal, cooldown, daily cap, minimum new samples; every decision audited in
``retraining_audit``). A trigger starts the configured retraining action: locally the
retraining job through the local job runner, on Databricks ``jobs.run_now``.

Parameters: --catalog --schema --env [--git-sha] [--as-of ISO-8601] (the trigger's clock;
the job passes its trigger time) [--retrain-job ID] (the bundle passes
``${resources.jobs.retraining_workflow.id}``: the job id on Databricks, ``local:...`` here).
Task value: ``retrain`` (true|false).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.retrain_trigger import run_retrain_trigger

    ctx = task_context(argv, optional={"as_of": "", "retrain_job": ""})
    decisions = run_retrain_trigger(
        ctx.config,
        ctx.tables(),
        as_of=ctx.instant("as_of"),
        retrain_job=ctx.params["retrain_job"] or None,
    )
    set_task_value("retrain", "true" if any(d.triggered for d in decisions) else "false")
    for decision in decisions:
        print(f"{decision.decision}: {decision.reason} ({decision.action_status})")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
