"""``finml docs reference``: print, write or check ``docs/reference.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from finml.cli.common import console, fail

docs_app = typer.Typer(help="Documentation generated from the code.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
    docs_app.command(
        "reference",
        epilog="Example: finml docs reference --write   (or --check, as the tests do)",
    )(reference)


def reference(
    ctx: typer.Context,
    root: Annotated[
        Path, typer.Option("--root", help="Repository folder (holds docs/).", file_okay=False)
    ] = Path("."),
    write: Annotated[bool, typer.Option("--write", help="Write docs/reference.md.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if docs/reference.md differs from the code.")
    ] = False,
) -> None:
    """The command and configuration reference, generated from the Typer app and the pydantic
    settings models (printed unless --write or --check)."""
    from finml.cli.reference import REFERENCE, REGENERATE, render_reference

    text = render_reference(ctx.find_root().command)
    target = root / REFERENCE
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            fail(f"{target}: differs from the code (run `{REGENERATE}`)")
        console.print(f"{target}: equal to the code")
    elif write:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        console.print(f"wrote {target}")
    else:
        print(text, end="")
