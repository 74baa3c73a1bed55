# Databricks notebook source
"""Task ``build_features`` (retraining_workflow): silver trades -> ``trade_features`` (feature
store) -> labelled point-in-time ``train_set`` / ``test_set``, split by trading day.

Parameters: --catalog --schema --env [--git-sha].
Task values: ``feature_table_version``, ``train_rows``, ``test_rows``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.features import build_features

    ctx = task_context(argv)
    report = build_features(ctx.config, ctx.spark(), ctx.tables())
    set_task_value("feature_table_version", int(report.feature_table_version))
    set_task_value("train_rows", int(report.train_rows))
    set_task_value("test_rows", int(report.test_rows))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
