# Databricks notebook source
"""Task ``stream`` (streaming_scoring_job): the Structured Streaming query over new
``silver_trades`` -> online features -> the ``@champion`` -> decisions into ``decisions``,
exactly once (RocksDB state and Delta sink on one checkpoint; see
``finml.jobs.streaming_scoring``).

Parameters: --catalog --schema --env [--git-sha] [--interval "30 seconds"] (empty: what is
new, then stop) [--max-files-per-trigger N] [--account A] (default ``streaming``).
Task value: ``decisions`` (rows of ``decisions`` after the run).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.errors import ModelNotFound
    from finml.jobs.streaming_scoring import ACCOUNT, run_streaming_scoring

    ctx = task_context(
        argv, optional={"interval": "", "max_files_per_trigger": "0", "account": ACCOUNT}
    )
    max_files = ctx.number("max_files_per_trigger", int)
    try:
        report = run_streaming_scoring(
            ctx.config,
            ctx.spark(),
            ctx.tables(),
            interval=ctx.params["interval"].strip() or None,
            max_files_per_trigger=max_files or None,
            account=ctx.params["account"],
        )
    except ModelNotFound as exc:  # a loop's first runs, before any model was trained
        print(f"nothing scored: {exc}")
        set_task_value("decisions", 0)
        return
    print(report)
    set_task_value("decisions", report.decisions)


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
