# Databricks notebook source
"""Task ``features`` (ingestion_workflow): the silver trades that arrived since the last run
-> ``trade_features`` (the feature store, MERGE, each trade computed with the lookback its
windows need) and ``trade_labels``, exactly once (an incremental stage over silver's Delta
streaming source; a rerun finds nothing new and commits nothing).

Parameters: --catalog --schema --env [--git-sha].
Task value: ``batches`` (stage batches this run executed).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.features import update_features

    ctx = task_context(argv)
    batches = update_features(ctx.config, ctx.spark(), ctx.tables())
    set_task_value("batches", int(batches))
    print(f"feature store updated: {batches} batch(es)")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
