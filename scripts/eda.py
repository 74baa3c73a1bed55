# Databricks notebook source
"""Task ``eda`` (dashboard_export_job): profile every layer's tables into ``eda_profile``
(per-column statistics, co-missing patterns, outliers, histograms, feature correlations,
per-symbol stationarity, intraday profile and trend), each table's Delta version once.

Parameters: --catalog --schema --env [--git-sha] [--tables "silver_trades,gold_bars_1m"]
(default: the ``eda.tables`` config, else every layer's tables).
Task values: ``profiled`` (tables profiled by this run), ``rows`` (statistics appended).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.eda import run_eda

    ctx = task_context(argv, optional={"tables": ""})
    only = tuple(t.strip() for t in ctx.params["tables"].split(",") if t.strip()) or None
    report = run_eda(ctx.config, ctx.tables(), only=only)
    set_task_value("profiled", len(report.profiled))
    set_task_value("rows", report.rows)
    print(f"eda: profiled {sorted(report.profiled)}, skipped {len(report.skipped)}")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
