# Databricks notebook source
"""Task ``deploy_champion`` (retraining_workflow, only after the gate promoted): put the new
champion to work by batch-scoring ``--source-table`` into ``predictions`` with the model at
``@champion``; the REST app serves ``@champion`` from its next (re)load.

Parameters: --catalog --schema --env [--git-sha] [--source-table T] [--model-version V].
Task value: ``scored`` (rows).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.serving import score_table

    ctx = task_context(argv, optional={"source_table": "test_set", "model_version": ""})
    report = score_table(ctx.config, ctx.spark(), ctx.tables(), ctx.params["source_table"])
    if ctx.params["model_version"] and report.model_version != ctx.params["model_version"]:
        from finml.errors import JobError

        raise JobError(
            f"deploy_champion: expected @champion to be version {ctx.params['model_version']}, "
            f"got {report.model_version}"
        )
    set_task_value("scored", int(report.rows))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
