"""Every ``finml`` command line in the ```bash examples of README.md and docs/*.md is a valid
invocation of this build: the command exists and click accepts every option and value
(types, ranges, choices), parsed as ``finml`` would without running the command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from finml.cli.root import app

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:\.venv/bin/)?finml\s+(.*)$")


def examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if match := COMMAND.match(line.split(" #")[0].strip()):
                    found.append((page.name, match.group(1)))
    return found


def parse(args: list[str]) -> str:
    """The name of the command ``finml args`` runs; raises (typer's bundled) click's error
    when it is not a valid invocation."""
    command = typer.main.get_command(app)
    ctx = command.make_context("finml", list(args))
    while isinstance(command, TyperGroup):
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and name is not None
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
    return str(command.name)


EXAMPLES = examples()


def test_the_docs_have_examples_to_check() -> None:
    assert len(EXAMPLES) > 40


@pytest.mark.parametrize(("page", "line"), EXAMPLES, ids=[f"{p}: {x}" for p, x in EXAMPLES])
def test_a_documented_command_line_is_valid(page: str, line: str) -> None:
    try:
        assert parse(shlex.split(line)) != "finml"  # a command below the root was reached
    except typer.Exit as done:  # --help / --version
        assert done.exit_code == 0


@pytest.mark.parametrize(
    "line", ["nosuchcommand", "simulate --days 0", "alerts --status bogus", "serve --nope"]
)
def test_an_invalid_line_is_caught(line: str) -> None:
    with pytest.raises(typer.TyperException):  # click's UsageError / BadParameter
        parse(shlex.split(line))
