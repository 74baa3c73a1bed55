# Databricks notebook source
"""Task ``medallion`` (ingestion_workflow): landing -> bronze -> silver (+ quarantine) -> gold.

Parameters: --catalog --schema --env [--git-sha] [--full-refresh true|false].
Task values: ``silver_trades`` (rows now in silver), ``quality_score`` (lowest of this run).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.data import run_pipeline

    ctx = task_context(argv, optional={"full_refresh": "false"})
    report = run_pipeline(
        ctx.config, ctx.spark(), ctx.tables(), full_refresh=ctx.flag("full_refresh")
    )
    set_task_value("silver_trades", int(report.counts.get("silver_trades", 0)))
    scores = [q.quality_score for q in report.quality]
    set_task_value("quality_score", min(scores) if scores else 1.0)


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
