"""A stand-alone ``finml``-like app with only the monitoring commands (until the lead wires
``finml.cli.monitoring.register`` into ``finml.cli``), run as a real process by the tests."""

from __future__ import annotations

import typer

from finml.cli.common import State
from finml.cli.monitoring import register

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = State()


register(app)

if __name__ == "__main__":
    app()
