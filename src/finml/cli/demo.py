"""``finml demo``: the main job on the embedded default, every stage that exists."""

from __future__ import annotations

from typing import Annotated

import typer

from finml.cli.common import State


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml demo --fresh")(demo)


def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool, typer.Option("--fresh/--keep", help="Start from an empty home (default: fresh).")
    ] = True,
) -> None:
    """Run the end-to-end demo on simulated market data and print a summary."""
    from finml.jobs.demo import run_demo

    state: State = ctx.obj
    run_demo(state.config, fresh=fresh)
