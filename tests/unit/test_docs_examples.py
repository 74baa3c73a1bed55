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
        remaining = [*ctx._protected_args, *ctx.args]
        if not remaining and command.invoke_without_command:  # e.g. `finml alerts`
            break
        name, sub, rest = command.resolve_command(ctx, remaining)
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


def blocks(language: str) -> list[tuple[str, str]]:
    return [
        (page.name, block)
        for page in PAGES
        for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    ]


def test_documented_config_sections_are_valid_settings() -> None:
    """Each ```yaml example of a config section validates with that section's model."""
    import importlib

    import yaml

    from finml.config import COMPONENT_MODELS
    from finml.config_collectors import CollectorSettings
    from finml.settings_base import validate_section

    models = {"collectors": CollectorSettings}
    for name, target in COMPONENT_MODELS.items():
        module, _, attribute = target.partition(":")
        models[name] = getattr(importlib.import_module(module), attribute)
    checked = []
    for page, block in blocks("yaml"):
        for name, section in yaml.safe_load(block).items():
            validate_section(models[name], section, name)  # ConfigError names the field
            checked.append(f"{page}: {name}")
    assert len(checked) >= 3, checked


def test_documented_python_parses_and_its_imports_exist() -> None:
    """Each ```python example is valid Python and every FinML name it imports exists."""
    import ast
    import importlib

    missing, imported = [], 0
    for page, block in blocks("python"):
        for node in ast.walk(ast.parse(block, filename=page)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("finml"):
                module = importlib.import_module(str(node.module))
                imported += len(node.names)
                missing += [f"{page}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name)]  # fmt: skip
    assert imported >= 8 and missing == []
