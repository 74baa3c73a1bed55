"""``docs/reference.md`` is the code's: regenerated here and compared byte for byte, every
command of the app and every config section in it, each value rendered as the code has it."""

from __future__ import annotations

import ast
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import pytest
import typer
from pydantic import Field

from finml.cli.reference import REFERENCE, REGENERATE, render_reference
from finml.cli.reference_cli import command_paths, is_group, render_commands
from finml.cli.reference_config import default_text
from finml.cli.reference_source import field_notes
from finml.cli.reference_text import portable, value_text
from finml.cli.reference_types import nested_models, type_text
from finml.cli.root import app
from finml.settings_base import StrictModel

REPO = Path(__file__).resolve().parents[3]
ROOT = typer.main.get_command(app)


@pytest.fixture(scope="module")
def page() -> str:
    return render_reference(ROOT)


def test_the_committed_reference_equals_the_code(page: str) -> None:
    committed = (REPO / REFERENCE).read_text(encoding="utf-8")
    assert committed == page, (
        f"{REFERENCE} differs from the code: regenerate it with `{REGENERATE}` "
        "(or `make reference`) and commit it"
    )


def test_every_registered_command_has_a_section_and_nothing_else_does(page: str) -> None:
    registered = {f"finml {path}" for path, _, _ in command_paths(ROOT)}
    assert {"finml job run", "finml docs reference", "finml history"} <= registered
    sections = set(re.findall(r"^### `(finml [^`]+)`$", page, re.M))
    assert sections == registered


def test_every_option_of_every_command_is_listed(page: str) -> None:
    for path, command, _ in command_paths(ROOT):
        section = page.split(f"### `finml {path}`\n", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            shown = f"`{param.name.upper()}`" if param.param_type_name == "argument" else None
            for name in [shown] if shown else param.opts:
                assert name in section, f"finml {path}: {name} missing from the reference"


def test_every_config_section_and_nested_section_is_there(page: str) -> None:
    from finml.config import COMPONENT_MODELS

    for name in [*COMPONENT_MODELS, "simulator", "collectors", "spark"]:
        assert f"### `{name}`" in page, name
    for nested in (
        "serving.ab",
        "monitoring.drift.thresholds",
        "simulator.regimes.<Normal/Stress/Crisis>",
    ):
        assert f"### `{nested}" in page, nested
    assert "| `serving.ab.challenger_percent` | float, >= 0.0, <= 100.0 | 5.0 |" in page
    assert "Overridden by `$FINML_CATALOG`." in page


def test_every_command_has_an_example_and_the_cli_test_lists_it() -> None:
    """Each command's ``--help`` ends with an example, and the integration test that runs
    ``--help`` as a process (its ``COMMANDS``) names every command."""
    cli_test = REPO / "tests/integration/cli/test_cli.py"
    tree = ast.parse(cli_test.read_text(encoding="utf-8"))
    listed = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMMANDS"
    )
    # what runs: every leaf, and every group that also runs without a sub-command
    runnable = {
        path: command
        for path, command, _ in command_paths(ROOT)
        if not is_group(command) or command.invoke_without_command
    }
    missing = sorted(set(runnable) - set(listed))
    assert set(listed) == set(runnable), f"{cli_test.name} COMMANDS: add {missing}"
    for path, command in runnable.items():
        assert (command.epilog or "").startswith("Example: finml "), path


def test_the_page_holds_nothing_of_this_machine(page: str) -> None:
    assert str(Path.home()) not in page and str(REPO) not in page
    assert render_reference(ROOT) == page  # and renders the same twice


# ---- the renderers on small apps and models, against hand-written expectations -------------
class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(StrictModel):
    """An inner block."""

    depth: int = Field(3, ge=1, le=9)  # how deep


class Sample(StrictModel):
    """A sample section."""

    # the start day,
    # in New York
    start: date = date(2024, 1, 8)
    mode: Literal["off", "on"] = "off"
    colour: Colour = Colour.BLUE
    cache: Path = Field(default_factory=lambda: Path.home() / ".cache" / "finml")
    inner: Inner = Field(default_factory=Inner)
    named: dict[str, Inner] = Field(default_factory=dict)
    ratio: float | None = Field(None, gt=0, description="the ratio")
    needed: int
    """Attribute docstring of needed."""


def test_config_fields_render_type_default_and_note() -> None:
    fields = Sample.model_fields
    assert type_text(fields["mode"].annotation) == '"off" | "on"'
    assert type_text(fields["colour"].annotation) == '"red" | "blue"'
    assert type_text(fields["ratio"].annotation) == "float | null"
    assert type_text(fields["named"].annotation) == "map[str, mapping]"
    assert default_text(fields["start"]) == '"2024-01-08"'
    assert default_text(fields["colour"]) == '"blue"'
    assert default_text(fields["cache"]) == '"~/.cache/finml"'  # never this machine's home
    assert default_text(fields["inner"]) == "(below)"
    assert default_text(fields["needed"]) == "required"
    notes = field_notes(Sample)
    assert notes["start"] == "the start day, in New York"
    assert notes["needed"] == "Attribute docstring of needed."
    assert field_notes(Inner) == {"depth": "how deep"}
    assert "mode" not in notes
    assert nested_models(fields["named"].annotation) == [(".<name>", Inner)]


def test_values_and_paths_are_portable() -> None:
    import sys

    assert value_text({"b": (1, 2), "a": None}) == '{"b": [1, 2], "a": null}'
    assert portable(f"{sys.prefix}/bin/finml") == "<python-prefix>/bin/finml"
    assert portable(f"{Path.home()}/x") == "~/x"


def test_commands_render_names_types_defaults_and_the_example() -> None:
    small = typer.Typer()

    @small.command(epilog="Example: finml go 3 --speed 2")
    def go(
        count: Annotated[int, typer.Argument(help="How many.")],
        speed: Annotated[float, typer.Option("--speed", "-s", min=0, help="Speed.")] = 1.5,
        loud: Annotated[bool, typer.Option("--loud/--quiet", help="Noise.")] = False,
    ) -> None:
        """Go somewhere."""

    @small.command()
    def stay() -> None:
        """Stay."""

    text = "\n".join(render_commands(typer.main.get_command(small)))
    assert "### `finml go`\n\nGo somewhere." in text
    assert "| `COUNT` | argument | int | required | How many. |" in text
    assert "| `--speed, -s` | option | float, >= 0 | 1.5 | Speed. |" in text
    assert "| `--loud` / `--quiet` | option | flag | false | Noise. |" in text
    assert "```text\nExample: finml go 3 --speed 2\n```" in text
    assert "Usage: finml go [OPTIONS] {count}" in text  # typer's usage line, as --help shows
