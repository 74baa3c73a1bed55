# Databricks notebook source
"""Task ``rollback_check``: if the newly promoted champion's live PR-AUC fell more than the
policy margin below its predecessor's level (or its own holdout baseline) in K of its first M
``model_monitoring`` windows, point ``champion`` back at ``previous-champion`` (a
``rollback_audit`` row) and raise a PERFORMANCE alert. Idempotent: with too few windows yet,
or once the champion was checked or rolled back, it does nothing.

Parameters: --catalog --schema --env [--git-sha]; the policy is ``models.rollback`` of
``project_config.yml`` (windows, violations, margin, compare_own_baseline, min_labelled).
Task values: ``rolled_back`` (true|false), ``status`` (rolled_back|passed|pending|skipped),
``champion_version`` (after the check).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.models.rollback_check import check_rollback

    ctx = task_context(argv)
    check = check_rollback(ctx.config, ctx.tables(with_spark=False))
    champion = check.record.to_version if check.record else check.champion_version
    set_task_value("rolled_back", "true" if check.rolled_back else "false")
    set_task_value("status", check.status)
    set_task_value("champion_version", "" if champion is None else str(champion))
    print(f"rollback check: {check.status}: {check.reason}")


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
