"""The ``finml`` command. Each sub-command is a thin shell over one library function.

Errors FinML raises on purpose print one line (``error: ...``) and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from finml.cli.common import State, console, fail
from finml.errors import FinmlError

app = typer.Typer(
    name="finml",
    help="FinML: lakehouse MLOps for financial market risk.\n\nExample: finml --env local info",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Project config YAML (default: ./project_config.yml)."),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment in the config (default: local).")
    ] = None,
) -> None:
    """FinML: lakehouse MLOps for financial market risk."""
    ctx.obj = State(config_path=config, env=env)


def _register() -> None:
    from finml.cli import (
        bundle,
        collect,
        dashboard,
        demo,
        features,
        models,
        monitoring,
        pipeline,
        serving,
        tables,
    )

    for module in (
        tables,
        pipeline,
        collect,
        features,
        models,
        serving,
        monitoring,
        dashboard,
        bundle,
        demo,
    ):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point: run the app, turning FinML errors into one line."""
    try:
        app(standalone_mode=False)
    except FinmlError as exc:
        fail(str(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted", style="red")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(0)
