"""The ``finml bundle`` / ``finml job`` / ``finml endpoint`` commands on a bare typer root, for
CliRunner tests without Spark."""

from __future__ import annotations

import typer

from finml.cli.bundle import register
from finml.cli.common import State


def bundle_app() -> typer.Typer:
    """A typer root with the bundle commands registered and a fresh ``State``."""
    root = typer.Typer()

    @root.callback()
    def _state(ctx: typer.Context) -> None:
        ctx.obj = State()

    register(root)
    return root
