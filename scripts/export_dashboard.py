# Databricks notebook source
"""Task ``export`` (dashboard_export_job): audit, monitoring and model tables -> the validated
metrics snapshot and the offline static dashboard site.

Parameters: --catalog --schema --env [--git-sha] [--out-dir PATH] (default: the ``dashboard``
config section's output folder, else ``<home>/dashboard``). Task value: ``index`` (path).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from pathlib import Path

    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.dashboard import export_dashboard

    ctx = task_context(argv, optional={"out_dir": ""})
    out_dir = Path(ctx.params["out_dir"]) if ctx.params["out_dir"] else None
    index = export_dashboard(ctx.config, ctx.tables(with_spark=False), out_dir)
    set_task_value("index", str(index))
    print(f"dashboard written: {index}")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
