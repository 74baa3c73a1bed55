# Databricks notebook source
"""Task ``rollback`` (rollback_job): point ``champion`` back at the previous champion and
write a ``rollback_audit`` row.

Parameters: --catalog --schema --env [--git-sha] [--reason TEXT]. Task value: ``to_version``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.training import rollback

    ctx = task_context(argv, optional={"reason": "manual rollback"})
    record = rollback(ctx.config, ctx.tables(with_spark=False), ctx.params["reason"])
    set_task_value("to_version", str(record.to_version))
    print(f"champion rolled back from v{record.from_version} to v{record.to_version}")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
