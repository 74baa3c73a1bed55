"""The ``finml`` command's app and console-script entry point (re-exported by
:mod:`finml.cli`). Each sub-command is a thin shell over one library function.

Errors FinML raises on purpose, and Spark/JVM failures (summarised to their root cause), print
one line (``error: ...``) and exit 1; ``--verbose`` adds the full trace. Bad usage exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from finml.cli.common import State, console, fail, fail_on_spark
from finml.errors import FinmlError
from finml.runtime.failures import spark_failure

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
        typer.Option(
            "--config",
            "-c",
            help="Project config YAML (default: $FINML_CONFIG, else project_config.yml here "
            "or in the nearest parent folder).",
        ),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment in the config (default: local).")
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="On failure print the full trace (Python and Java), and Spark's warnings.",
        ),
    ] = False,
) -> None:
    """FinML: lakehouse MLOps for financial market risk."""
    state = ctx.ensure_object(State)
    state.config_path, state.env, state.verbose = config, env, verbose


def _register() -> None:
    from finml.cli import (
        bundle,
        collect,
        dashboard,
        decisions,
        demo,
        docs,
        eda,
        endpoint,
        features,
        models,
        monitoring,
        pipeline,
        replay,
        scheduler,
        secrets,
        serving,
        tables,
    )

    for module in (
        tables,
        pipeline,
        collect,
        features,
        eda,
        models,
        serving,
        endpoint,
        decisions,
        monitoring,
        dashboard,
        bundle,
        scheduler,
        replay,
        demo,
        secrets,
        docs,
    ):
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point: exit 0; 1 with one line for a FinML error or a Spark/JVM
    failure; 2 for bad usage. Any other exception is a bug and keeps its traceback."""
    state = State()  # the root callback fills it in; read here when a command fails
    try:
        returned = app(standalone_mode=False, obj=state)
    except FinmlError as exc:
        fail(str(exc))
    except typer.Exit as exc:  # raised outside a command (click returns it from one)
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted", style="red")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (typer's bundled click raises them)
        show = getattr(exc, "show", None)
        if not callable(show):
            fail(str(exc), exc.exit_code)
        show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        failure = spark_failure(exc)
        if failure is None:
            raise
        fail_on_spark(failure, verbose=state.verbose)
    # Not standalone, click returns a command's ``typer.Exit(code)`` (and Ctrl-C as 130)
    # instead of raising it.
    code = returned if isinstance(returned, int) else 0
    if code == 130:
        console.print("interrupted", style="red")
    sys.exit(code)
