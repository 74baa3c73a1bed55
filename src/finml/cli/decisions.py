"""``finml backtest``: the decision engine replayed over the scored history."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from finml.cli.common import State, console


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml backtest --model-version 3 --json")(backtest)


def backtest(
    ctx: typer.Context,
    model_version: Annotated[
        str | None,
        typer.Option(help="Model version whose predictions to replay (default: @champion)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Replay the decision engine (confidence filter, risk, exits, Kelly sizing) over the
    `predictions` of one model version, filled at each symbol's next trade: decisions into
    the Delta table `decisions`, business metrics (PnL, win rate, profit factor, max
    drawdown, decisions per hour) into the MLflow experiment `finml-decisions`."""
    from finml.jobs.backtest import run_backtest

    state: State = ctx.obj
    state.require_tables("predictions", "silver_trades")  # before the spinner starts
    tables = state.tables()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        bar.add_task("replaying the decision engine over predictions", total=None)
        report = run_backtest(state.config, tables, version=model_version)
    if as_json:
        payload = {
            "run_id": report.run_id,
            "model_version": report.model_version,
            "metrics": report.metrics,
            "counts": report.counts,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    table = RichTable("metric", "value", title=f"Backtest of v{report.model_version}")
    for key, value in report.metrics.items():
        table.add_row(key, f"{value:,.4f}")
    for action, count in report.counts.items():
        table.add_row(f"decisions {action}", f"{count:,}")
    console.print(table)
    console.print(f"MLflow run {report.run_id}; decisions appended to `decisions`")
