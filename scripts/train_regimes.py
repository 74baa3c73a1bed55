# Databricks notebook source
"""Task ``train_regimes`` (retraining_workflow): daily risk scores from ``gold_bars_1m`` ->
regimes (Normal/Stress/Crisis) -> Markov chain and analytics -> ``regime_states``, and the
``regime_model`` logged and registered in MLflow.

Parameters: --catalog --schema --env [--git-sha].
Task values: ``regime_model_version``, ``regime_states_version``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import library, task_context
    from finml.bundle.task_values import set_task_value

    ctx = task_context(argv)
    run_regimes = library("finml.jobs.regimes:run_regimes")
    report = run_regimes(ctx.config, ctx.spark(), ctx.tables())
    set_task_value("regime_model_version", str(report.model_version))
    set_task_value("regime_states_version", int(report.table_version))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
