# Databricks notebook source
"""Task ``train_regimes`` (retraining_workflow): daily risk scores from ``gold_bars_1m`` ->
regimes (Normal/Stress/Crisis) -> Markov chain and analytics -> ``regime_states``, and the
``regime_model`` registered as challenger and gated against the champion on held-out days
(promoted only if its held-out next-regime log-likelihood is higher; ``regime_model_audit``).

Parameters: --catalog --schema --env [--git-sha].
Task values: ``regime_model_version``, ``regime_states_version``, ``regime_gate_decision``
(PROMOTE or REJECT), ``regime_champion_version``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value
    from finml.jobs.regimes import run_regimes

    ctx = task_context(argv)
    report = run_regimes(ctx.config, ctx.spark(), ctx.tables())
    set_task_value("regime_model_version", str(report.model_version))
    set_task_value("regime_states_version", int(report.table_version))
    decision = report.decision
    if decision is not None:
        set_task_value("regime_gate_decision", decision.decision)
        set_task_value("regime_champion_version", str(decision.champion_after))
    print(report.summary())


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
