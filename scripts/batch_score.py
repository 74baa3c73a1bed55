# Databricks notebook source
"""Task ``score`` (batch_inference_job): score ``--source-table`` with the model at ``--alias`` into
``predictions`` (issue 8). Task value: ``scored`` (rows).

Parameters: --catalog --schema --env [--git-sha] [--source-table T] [--alias A]
[--new-only true|false] (true: only trades no version of the model scored yet).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.errors import ModelNotFound
    from finml.jobs.serving import score_table

    ctx = task_context(
        argv, optional={"source_table": "test_set", "alias": "champion", "new_only": "false"}
    )
    try:
        result = score_table(
            ctx.config,
            ctx.spark(),
            ctx.tables(),
            ctx.params["source_table"],
            alias=ctx.params["alias"],
            new_only=ctx.flag("new_only"),
        )
    except ModelNotFound as exc:  # a loop's first runs, before any model was trained
        if ctx.params["alias"] != "champion":
            raise
        print(f"nothing scored: {exc}")
        set_task_value("scored", 0)
        return
    set_task_value("scored", int(getattr(result, "rows", 0) or 0))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
