"""``docs/reference.md``: every ``finml`` command and every config key, generated from the code.

:func:`render_reference` reads the click tree typer builds from the app
(:mod:`finml.cli.reference_cli`) and the pydantic settings models
(:mod:`finml.cli.reference_config`). The page is committed; ``finml docs reference --write``
(or ``make reference``) regenerates it and ``tests/unit/cli/test_reference.py`` fails when
the committed page and the code differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finml.cli.reference_cli import render_commands
from finml.cli.reference_config import render_config

REFERENCE = Path("docs/reference.md")
REGENERATE = "finml docs reference --write"

HEADER = f"""# FinML reference

Generated from the code by `{REGENERATE}` (or `make reference`): the commands from the
`finml` Typer app (`src/finml/cli/`), the configuration keys from the pydantic settings models
(`src/finml/config.py`, `COMPONENT_MODELS`). Do not edit by hand; after a change to a command
or a setting -- or a merge that brings one -- run `{REGENERATE}` and commit the result.
`tests/unit/cli/test_reference.py` fails while this page and the code differ.

Contents: [Commands](#commands), [Configuration](#configuration). On-call procedures are in
the [runbook](runbook.md).
"""


def render_reference(root: Any) -> str:
    """The whole page for the click command ``root`` (``typer.main.get_command(app)``)."""
    lines = [HEADER, *render_commands(root), "", *render_config()]
    return "\n".join(lines).rstrip() + "\n"
