# Databricks notebook source
"""Task ``score`` (batch_inference_job): score ``--source-table`` with the model at ``--alias`` into
``predictions`` (issue 8). Task value: ``scored`` (rows).

Parameters: --catalog --schema --env [--git-sha] [--source-table T] [--alias A].
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import library, task_context
    from finml.bundle.task_values import set_task_value

    ctx = task_context(argv, optional={"source_table": "test_set", "alias": "champion"})
    score_table = library("finml.jobs.serving:score_table")
    result = score_table(
        ctx.config, ctx.spark(), ctx.tables(), ctx.params["source_table"], alias=ctx.params["alias"]
    )
    set_task_value("scored", int(getattr(result, "rows", 0) or 0))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
