"""``finml replay``: the scheduled jobs living over simulated trading days."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from finml.cli.bundle import RootOption
from finml.cli.common import State, console, fail

if TYPE_CHECKING:
    from finml.jobs.replay import ReplayResult


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml replay --days 30 --drift-day 15 --bad-model-day 24 --fresh")(
        replay
    )


def replay(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=8, help="Trading days to simulate and run.")] = 30,
    drift_day: Annotated[
        int | None, typer.Option(min=1, help="Day the market shifts (0-based; none: no shift).")
    ] = 15,
    bad_model_day: Annotated[
        int | None,
        typer.Option(min=1, help="Day a deliberately bad model is forced to @champion."),
    ] = None,
    trades_per_day: Annotated[
        int, typer.Option(min=50, help="Trades per symbol and day of the simulated market.")
    ] = 400,
    tuning_trials: Annotated[
        int | None,
        typer.Option(
            min=0, help="Optuna trials per tuned candidate of each retrain (default: the bundle's)."
        ),
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="The replay's home (default: <home>/replay).")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Empty the replay home first.")] = False,
    root: RootOption = Path("."),
) -> None:
    """Replay the MLOps loop from an empty home: each simulated trading day the local
    scheduler fires the bundle's jobs (ingestion, batch inference, drift monitoring with
    rollback check and retraining trigger, dashboard) through the local job runner; prints
    a per-day timeline (trades, drift, trigger decision, champion, live PR-AUC)."""
    from finml.jobs.replay import ReplayPlan, run_replay

    state: State = ctx.obj
    plan = ReplayPlan(
        days=days,
        drift_day=drift_day,
        bad_model_day=bad_model_day,
        trades_per_day=trades_per_day,
        tuning_trials=tuning_trials,
    )
    folder = home or state.config.home / "replay"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("replay", total=days)

        def on_day(index: int, day: object, fires: list) -> None:
            failed = sum(1 for f in fires if not f.ok)
            note = f" [red]{failed} failed[/]" if failed else ""
            progress.update(bar, advance=1, description=f"replay {day}: {len(fires)} runs{note}")

        result = run_replay(state.config, plan, home=folder, root=root, fresh=fresh, on_day=on_day)
    _print(result)
    if result.failed_fires:
        fail(f"replay: {len(result.failed_fires)} job run(s) failed: {result.failed_fires[0]}")


def _print(result: ReplayResult) -> None:
    table = RichTable(
        "day", "trades", "drift", "trigger", "model v", "live PR-AUC", title="Replay timeline"
    )
    for row in result.timeline:
        pr = row["pr_auc"]
        table.add_row(
            str(row["day"]),
            f"{row['trades']:,}",
            "-" if row["drift"] is None else f"{row['drift']} ({row['drift_share']:.0%} HIGH)",
            row["decision"] or "-",
            row["model_version"] or "-",
            "-" if pr is None else f"{pr:.3f}",
        )
    console.print(table)
    console.print(
        f"{result.fires} scheduled runs; timeline: {result.home / 'replay_timeline.json'}; "
        f"dashboard: file://{result.dashboard}"
    )
