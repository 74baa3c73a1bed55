# Databricks notebook source
"""Task ``train_tournament`` (retraining_workflow): the model tournament on ``train_set``
(walk-forward CV, holdout ``test_set``), the winner registered as ``challenger`` in MLflow,
validated (signature, golden rows, metric floors, latency, calibration) and put through the
champion/challenger gate, which audits its decision and moves ``champion`` on PROMOTE
(``finml.jobs.training.run_training`` does these four steps in one call).

Parameters: --catalog --schema --env [--git-sha] [--tuning-trials N] [--tuning-timeout-seconds S]
(N > 0: an Optuna study of N trials for each of ``models.tuning.candidates``, within S
seconds each, every trial a nested MLflow run of the tournament run; 0: the config's
``models.tuning`` as it is).
Task values: ``model_name``, ``model_version``, ``winner``, ``validation`` (passed|failed),
``decision`` (PROMOTE|REJECT, read by the ``deploy_gate`` condition task).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.training import run_training, tuned_settings

    ctx = task_context(argv, optional={"tuning_trials": "0", "tuning_timeout_seconds": "120"})
    settings = tuned_settings(
        ctx.config, ctx.params["tuning_trials"], ctx.params["tuning_timeout_seconds"]
    )
    report = run_training(ctx.config, ctx.spark(), ctx.tables(), settings)
    set_task_value("model_name", report.model_name)
    set_task_value("model_version", str(report.version.version))
    set_task_value("winner", report.winner)
    set_task_value("validation", "passed" if report.validation.passed else "failed")
    set_task_value("decision", report.decision.decision)
    print(report.summary())


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
