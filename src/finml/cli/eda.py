"""``finml eda``: profile every layer's tables into the Delta table ``eda_profile``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from finml.cli.common import State, console, fail


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml eda --table silver_trades --table gold_bars_1m")(eda)


def eda(
    ctx: typer.Context,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help="Profile only this table (repeatable; default: every layer)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Profile each table's current Delta version into `eda_profile` (per column: type,
    missing and co-missing patterns, distinct, mean/std/min/max/quantiles, IQR and z-score
    outliers, histogram; feature correlations, Pearson and Spearman; per symbol: ADF and KPSS
    of log prices and returns, intraday seasonality, trend). A table version already
    profiled is skipped, so a re-run writes nothing."""
    from finml.errors import FinmlError
    from finml.jobs.eda import LAYERS, profiled_tables, run_eda

    state: State = ctx.obj
    try:  # before Spark starts
        names = profiled_tables(state.config, tuple(table) if table else None)
    except FinmlError as exc:
        fail(str(exc))
    tables = state.tables(with_spark=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=as_json,
    ) as bar:  # fmt: skip
        task = bar.add_task("profiling tables", total=len(names))
        try:
            report = run_eda(state.config, tables, only=names, on_table=lambda _: bar.advance(task))
        except FinmlError as exc:
            fail(str(exc))
    if as_json:
        payload = {
            "profiled": report.profiled,
            "skipped": report.skipped,
            "rows": report.rows,
            "table_version": report.table_version,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    out = RichTable("table", "layer", "result", title="eda_profile")
    for name, version in report.profiled.items():
        out.add_row(name, LAYERS[name], f"profiled version {version}")
    for name, why in report.skipped.items():
        out.add_row(name, LAYERS[name], f"skipped: {why}")
    console.print(out)
    console.print(f"{report.rows:,} statistics appended to `eda_profile`")
