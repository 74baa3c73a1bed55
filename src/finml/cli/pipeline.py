"""``finml simulate``, ``finml ingest``, ``finml pipeline run``: the data plane."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console

if TYPE_CHECKING:
    from finml.pipelines.ingest import IngestResult
    from finml.pipelines.medallion import MedallionReport

pipeline_app = typer.Typer(
    help="The medallion pipeline (landing -> bronze -> silver -> gold).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml simulate --days 10 --seed 7 --drift-day 6")(simulate)
    app.command(epilog="Example: finml ingest --wait 60")(ingest)
    app.add_typer(pipeline_app, name="pipeline")
    pipeline_app.command(
        "run",
        epilog="Example: finml pipeline run --wait 120   (or --full-refresh; or --declarative: "
        "the same tables as a Spark Declarative Pipeline, into <schema>_dlt)",
    )(run)


def simulate(
    ctx: typer.Context,
    days: Annotated[int | None, typer.Option(min=1, help="Trading days to simulate.")] = None,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated tickers.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same data).")] = None,
    drift_day: Annotated[
        int | None, typer.Option(help="Day from which volatility shifts (drift scenario).")
    ] = None,
) -> None:
    """Simulate a market into the landing zone (trades JSONL, bars CSV) + ground truth."""
    from finml.jobs.data import run_simulation, simulator_config

    state: State = ctx.obj
    overrides: dict[str, object] = {"days": days, "seed": seed}
    if symbols:
        overrides["symbols"] = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if drift_day is not None:
        current = state.config.simulator.drift
        overrides["drift"] = {**(current.model_dump() if current else {}), "start_day": drift_day}
    sim = simulator_config(state.config, **overrides)
    summary = run_simulation(state.config, state.tables(), sim)
    console.print(
        f"simulated {summary.trades:,} trades ({summary.anomalies:,} labelled anomalies) into "
        f"{state.config.landing_dir}"
    )


_WAIT = typer.Option(
    "--wait",
    min=0,
    help="Seconds to wait for another run holding the lock on these tables (default: fail).",
)


def ingest(ctx: typer.Context, wait: Annotated[float, _WAIT] = 0.0) -> None:
    """Ingest new landing files into bronze (exactly once; re-running adds nothing)."""
    from finml.jobs.data import medallion_lock, run_ingest

    state: State = ctx.obj
    with medallion_lock(state.config, wait):  # before Spark starts: a held lock fails fast
        results = run_ingest(state.config, state.spark(), state.tables(with_spark=True))
    print_ingest(results, state.config.landing_dir)


def print_ingest(results: list[IngestResult], landing: object) -> None:
    """What each landing stream ingested (or that there were no landing files)."""
    for result in results:
        console.print(
            f"{result.stream}: {result.rows:,} rows in {result.batches} batch(es) -> {result.table}"
            + (f" ({result.skipped_batches} already committed)" if result.skipped_batches else "")
        )
    if not results:
        console.print(f"no landing files under {landing}")


def run(
    ctx: typer.Context,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild silver and gold from all of bronze.")
    ] = False,
    wait: Annotated[float, _WAIT] = 0.0,
    declarative: Annotated[
        bool,
        typer.Option(
            "--declarative",
            help="Run the same tables and rules as an open-source Spark Declarative Pipeline "
            "(spark-pipelines, resources/sdp/spark-pipeline.yml) into schema <schema>_dlt; "
            "always a full refresh.",
        ),
    ] = False,
) -> None:
    """Ingest, then bronze -> silver (+ quarantine) -> gold bars, with expectations."""
    from finml.jobs.data import medallion_lock, run_pipeline

    state: State = ctx.obj
    if declarative:
        run_declarative_pipeline(state, wait)
        return
    with medallion_lock(state.config, wait):  # before Spark starts: a held lock fails fast
        report = run_pipeline(
            state.config, state.spark(), state.tables(with_spark=True), full_refresh=full_refresh
        )
    print_ingest(report.ingest, state.config.landing_dir)
    print_report(report)


def print_report(report: MedallionReport) -> None:
    """Rows per table and quality per table and stage batch of this run."""
    counts = RichTable("table", "rows", title="Tables")
    for name, rows in sorted(report.counts.items()):
        counts.add_row(name, f"{rows:,}")
    console.print(counts)
    if not report.quality:
        console.print("nothing new to process")
        return
    quality = RichTable(
        "layer",
        "table",
        "batch",
        "in",
        "out",
        "quarantined",
        "duplicates",
        "score",
        title="Data quality of this run",
    )
    for q in report.quality:
        quality.add_row(
            q.layer,
            q.table_name,
            f"{q.stage}#{q.batch_id}",
            f"{q.rows_in:,}",
            f"{q.rows_out:,}",
            f"{q.rows_quarantined:,}",
            f"{q.duplicates_removed:,}",
            f"{q.quality_score:.3f}",
        )
    console.print(quality)


def run_declarative_pipeline(state: State, wait: float) -> None:
    """``finml pipeline run --declarative``: spark-pipelines as a process, then the rows of
    each table it wrote."""
    from finml.jobs.data import run_declarative

    result, counts = run_declarative(state.config, wait_seconds=wait)
    table = RichTable("table", "rows", title=f"Declarative pipeline tables ({result.schema})")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"spark-pipelines: {len(result.flows)} flows completed in {result.seconds:.0f} s "
        f"(log: {result.log})"
    )
