# Databricks notebook source
"""Task ``collect`` (ingestion_workflow): market data from ``--source`` into the landing zone.

Parameters: --catalog --schema --env [--git-sha] [--source simulator|finnhub|alphavantage]
[--days N --trades-per-day N --seed N [--as-of ISO-8601]] (simulator; with --as-of the
seeded market is delivered day by day: the days closed by then, each once) [--duration 5m]
(finnhub).
Task values: ``trades`` (simulator) or ``records`` (collectors).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    from finml.bundle.params import task_context
    from finml.bundle.task_values import set_task_value

    ctx = task_context(
        argv,
        optional={
            "source": "simulator",
            "days": "",
            "trades_per_day": "",
            "seed": "",
            "duration": "",
            "as_of": "",
        },
    )
    source = ctx.params["source"]
    if source == "simulator":
        from finml.jobs.data import run_simulation, simulator_config

        sim = simulator_config(
            ctx.config,
            days=ctx.number("days", int) if ctx.params["days"] else None,
            trades_per_day=ctx.number("trades_per_day", int)
            if ctx.params["trades_per_day"]
            else None,
            seed=ctx.number("seed", int) if ctx.params["seed"] else None,
        )
        as_of = ctx.instant("as_of") if ctx.params["as_of"] else None
        summary = run_simulation(ctx.config, ctx.tables(with_spark=False), sim, as_of=as_of)
        set_task_value("trades", summary.trades)
        return
    from finml.jobs.collect import run_collector

    result = run_collector(ctx.config, source, duration=ctx.params["duration"] or None)
    set_task_value("records", int(result.records))


if __name__ == "__main__":
    from finml.jobs.entry import run_task

    sys.exit(run_task(main, sys.argv[1:]))
