"""The command part of ``docs/reference.md``, read from the ``finml`` click tree.

Every command below the root -- its name, help, usage, arguments and options (type, range,
default, help) and its ``Example:`` epilog -- is taken from the command objects typer builds
(``typer.main.get_command(app)``), so the page cannot list a command or option the code lacks.
Commands are sorted by their path, so the output depends on the code alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from finml.cli.reference_text import cell, portable

PROGRAM = "finml"


def command_paths(root: Any) -> Iterator[tuple[str, Any, Any]]:
    """``(path, command, context)`` for every command below ``root``, groups first, sorted by
    path (``"job run"``); hidden commands are left out."""
    yield from _walk(root, typer.Context(root, info_name=PROGRAM), ())


def _walk(group: Any, parent: Any, trail: tuple[str, ...]) -> Iterator[tuple[str, Any, Any]]:
    for name in sorted(getattr(group, "commands", {})):
        command = group.commands[name]
        if command.hidden:
            continue
        path = (*trail, name)
        ctx = typer.Context(command, info_name=name, parent=parent)
        yield " ".join(path), command, ctx
        yield from _walk(command, ctx, path)


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def render_commands(root: Any) -> list[str]:
    """The ``## Commands`` part of the reference, as lines."""
    root_ctx = typer.Context(root, info_name=PROGRAM)
    lines = ["## Commands", "", *_help_lines(root.help), ""]
    lines += ["Global options (before the command):", "", *_params_table(root, root_ctx), ""]
    paths = list(command_paths(root))
    lines += [f"- [`{PROGRAM} {path}`](#{_anchor(path)})" for path, _, _ in paths]
    for path, command, ctx in paths:
        lines += ["", f"### `{PROGRAM} {path}`", ""]
        lines += _help_lines(command.help)
        if is_group(command):
            subcommands = ", ".join(f"`{name}`" for name in sorted(command.commands))
            lines += ["", f"Sub-commands: {subcommands}."]
            if command.invoke_without_command:  # it also runs on its own, with its options
                lines += _own_options(command, ctx)
            continue
        pieces = " ".join(command.collect_usage_pieces(ctx))
        lines += ["", "```text", f"Usage: {PROGRAM} {path} {pieces}".rstrip(), "```"]
        if any(not p.hidden for p in command.params):
            lines += ["", *_params_table(command, ctx)]
        if command.epilog:
            lines += ["", "```text", portable(command.epilog.strip()), "```"]
    return lines


def _own_options(group: Any, ctx: Any) -> list[str]:
    """The options and example of a group that runs without a sub-command."""
    lines = ["", "Without a sub-command it runs itself:"]
    if any(not p.hidden for p in group.params):
        lines += ["", *_params_table(group, ctx)]
    if group.epilog:
        lines += ["", "```text", portable(group.epilog.strip()), "```"]
    return lines


def _anchor(path: str) -> str:
    """GitHub's anchor of the heading ``finml <path>`` (code spans keep their text)."""
    return f"{PROGRAM}-{path}".replace(" ", "-")


def _help_lines(text: str | None) -> list[str]:
    """A command's help as paragraphs (typer's ``\\b`` no-rewrap markers dropped)."""
    if not text:
        return ["(no help text)"]
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip() != "\b"]
    return [portable(line) for line in kept]


def _params_table(command: Any, ctx: Any) -> list[str]:
    rows = ["| name | kind | type | default | help |", "|---|---|---|---|---|"]
    for param in command.params:
        if param.hidden:
            continue
        rows.append(
            "| "
            + " | ".join(
                cell(text)
                for text in (
                    _param_names(param),
                    param.param_type_name,
                    param_type(param, ctx),
                    param_default(param),
                    param.help or "",
                )
            )
            + " |"
        )
    return rows


def _param_names(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"`{str(param.name).upper()}`"
    return " / ".join(f"`{name}`" for name in [", ".join(param.opts), *param.secondary_opts])


def param_type(param: Any, ctx: Any) -> str:
    """The type typer shows (``int``, ``path``, a choice ``a|b``), a flag as ``flag``, with
    the number range when there is one (``int, >= 1``)."""
    if getattr(param, "is_flag", False):
        return "flag"
    shown = str(param.display_type(ctx)).strip("<>").replace(" range", "")
    bounds = [f">= {param.min}" if getattr(param, "min", None) is not None else ""]
    bounds.append(f"<= {param.max}" if getattr(param, "max", None) is not None else "")
    if getattr(param, "multiple", False):
        shown = f"{shown} (repeatable)"
    return ", ".join([shown, *(b for b in bounds if b)])


def param_default(param: Any) -> str:
    """``required``, nothing (no default), or the default as the command line would give it;
    a computed default is named by its function, never called (it may depend on the machine)."""
    if param.required:
        return "required"
    default = param.default
    if callable(default):
        return f"<{getattr(default, '__name__', 'computed')}()>"
    if default is None or (getattr(param, "multiple", False) and not default):
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    return portable(str(default))
