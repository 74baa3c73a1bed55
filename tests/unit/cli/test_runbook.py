"""Every command line of ``docs/runbook.md`` exists today: each ``finml ...`` line of its code
blocks parses against the Typer app's click tree (command path, options, their values), and
each ``databricks bundle run|deploy|validate -t <target> [<key>]`` names a target of
``databricks.yml`` and a job or pipeline of ``resources/*.yml``. Each procedure has commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml
from typer.core import TyperGroup

from finml.cli.root import app

REPO = Path(__file__).resolve().parents[3]
RUNBOOK = REPO / "docs" / "runbook.md"
PROCEDURES = (
    "Drift alert",
    "Failed job",
    "Bad champion",
    "Data-quality incident",
    "Collector outage",
    "Secret rotation",
)


def command_lines(text: str, program: str) -> list[tuple[str, str]]:
    """``(section, arguments)`` of every line of a fenced code block that runs ``program``
    (a trailing `` # comment`` dropped, continuation lines joined)."""
    found = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0]
        for block in re.findall(r"^\s*```[a-z]*\n(.*?)^\s*```", section, re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                words = line.split(" #")[0].strip()
                if words.startswith(f"{program} "):
                    found.append((title, words.removeprefix(f"{program} ")))
    return found


def parse(args: list[str]) -> str:
    """The command path ``finml args`` runs (``"job run"``); raises (typer's bundled) click's
    usage error for an unknown command or option, or a bad or missing value."""
    command = typer.main.get_command(app)
    ctx = command.make_context("finml", list(args))
    path = []
    while isinstance(command, TyperGroup):
        remaining = [*ctx._protected_args, *ctx.args]
        if not remaining and command.invoke_without_command:
            break  # a group that runs on its own (`finml alerts --limit 20`)
        name, sub, rest = command.resolve_command(ctx, remaining)
        assert sub is not None and name is not None
        path.append(name)
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
    return " ".join(path)


TEXT = RUNBOOK.read_text(encoding="utf-8")
FINML_LINES = command_lines(TEXT, "finml")
DATABRICKS_LINES = command_lines(TEXT, "databricks")


def test_every_procedure_is_there_with_finml_commands() -> None:
    sections = {title for title, _ in FINML_LINES}
    for procedure in PROCEDURES:
        assert any(title.startswith(procedure) for title in sections), procedure
    assert len(FINML_LINES) >= 30


@pytest.mark.parametrize(("section", "line"), FINML_LINES, ids=[x for _, x in FINML_LINES])
def test_a_runbook_finml_line_is_a_valid_invocation(section: str, line: str) -> None:
    path = parse(shlex.split(line))
    assert path, f"{section}: `finml {line}` reaches no command"


@pytest.mark.parametrize(
    "line",
    ["job rerun ingestion_workflow", "rollback --reason x --force", "alerts --status nope"],
)
def test_the_check_catches_an_unknown_command_option_or_value(line: str) -> None:
    with pytest.raises(typer.TyperException):
        parse(shlex.split(line))


def bundle_names() -> tuple[set[str], set[str]]:
    targets = set(yaml.safe_load((REPO / "databricks.yml").read_text())["targets"])
    keys: set[str] = set()
    for file in (REPO / "resources").glob("*.yml"):
        resources = (yaml.safe_load(file.read_text()) or {}).get("resources", {})
        for kind in ("jobs", "pipelines"):
            keys |= set(resources.get(kind) or {})
    return targets, keys


def test_databricks_lines_name_known_targets_and_resources() -> None:
    targets, keys = bundle_names()
    assert DATABRICKS_LINES, "the runbook gives the Databricks side of the procedures"
    for section, line in DATABRICKS_LINES:
        words = shlex.split(line)
        assert words[0] == "bundle" and words[1] in {"run", "deploy", "validate"}, line
        target = words[words.index("-t") + 1]
        assert target in targets, f"{section}: target {target!r} not in databricks.yml"
        if words[1] == "run":
            key = next(w for w in words[words.index("-t") + 2 :] if not w.startswith("-"))
            assert key in keys, f"{section}: {key!r} is not a job or pipeline of resources/"
