"""``finml info``, ``finml tables``, ``finml history``: what is installed and stored."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, TypedDict

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console, emit_json

_PACKAGES = (
    "finml",
    "pyspark",
    "delta-spark",
    "deltalake",
    "pyarrow",
    "pandas",
    "pydantic",
    "mlflow",
)


class _TableRow(TypedDict):
    """One line of ``finml tables`` (and one object of its ``--json``)."""

    table: str
    version: int
    rows: int
    location: str


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml info --json")(info)
    app.command(epilog="Example: finml tables")(tables)
    app.command(epilog="Example: finml history bronze_trades --limit 5")(history)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def info(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    spark: Annotated[
        bool, typer.Option("--spark", help="Start Spark and ask its JVM (slower, exact).")
    ] = False,
) -> None:
    """Show versions, the Delta engine in use, paths and the active config."""
    from finml.runtime.jars import expected_engine

    state: State = ctx.obj
    config = state.config
    engine, why = expected_engine(config)
    if spark:
        from finml.runtime.spark import choose_delta_engine

        engine = choose_delta_engine(state.spark(), config.delta_engine)
    payload: dict[str, Any] = {
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in _PACKAGES},
        "delta_engine": engine,
        "delta_engine_reason": why,
        "engine_checked_in_spark": spark,
        "env": config.env,
        "config_file": str(config.source_file) if config.source_file else "built-in defaults",
        "catalog": config.catalog,
        "schema": config.db_schema,
        "home": str(config.home),
        "warehouse": str(config.warehouse_dir),
        "landing": str(config.landing_dir),
        "mlflow_tracking_uri": config.tracking_uri,
        "config_hash": config.config_hash(),
    }
    if as_json:
        emit_json(payload)
        return
    table = RichTable(title="FinML", show_header=False)
    for key, value in payload.items():
        shown = (
            ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        )
        table.add_row(key, str(shown))
    console.print(table)


def tables(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the tables of the environment's schema with version and row count."""
    state: State = ctx.obj
    rows: list[_TableRow] = [
        {"table": str(t.name), "version": t.version(), "rows": t.count(), "location": t.location}
        for t in state.tables().list()
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print(f"no tables yet under {state.config.warehouse_dir}")
        return
    table = RichTable("table", "version", "rows", "location")
    for row in rows:
        table.add_row(row["table"], str(row["version"]), f"{row['rows']:,}", row["location"])
    console.print(table)


def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Table: name, schema.name or catalog.schema.name.")],
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Newest N.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a table's commit history (operation, parameters, metrics)."""
    state: State = ctx.obj
    entries = state.tables().require(name).history(limit)
    if as_json:
        emit_json([e.__dict__ for e in entries])
        return
    table = RichTable("version", "timestamp", "operation", "parameters", "metrics")
    for e in entries:
        params = ", ".join(f"{k}={v}" for k, v in e.parameters.items())
        metrics = ", ".join(f"{k}={v}" for k, v in e.metrics.items() if "rows" in k)
        table.add_row(
            str(e.version), e.timestamp.isoformat(timespec="seconds"), e.operation, params, metrics
        )
    console.print(table)
