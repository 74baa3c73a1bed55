"""Resolve ``${var.*}``, ``${bundle.*}``, ``${workspace.*}`` and ``${resources.*}`` per target.

The same substitution ``databricks bundle deploy`` performs, for the keys FinML uses:

* ``${var.<name>}`` — variable default <- target's value <- ``BUNDLE_VAR_<name>`` <- overrides;
* ``${bundle.name}``, ``${bundle.target}``, ``${bundle.git.commit}``, ``${bundle.git.branch}``;
* ``${workspace.root_path}``, ``${workspace.file_path}``, ``${workspace.current_user.userName}``
  (locally the root path is the bundle folder itself, so relative script paths still work);
* ``${resources.<kind>.<key>.id}`` — locally ``local:<kind>.<key>``.

Runtime references ``{{tasks.<t>.values.<k>}}`` / ``{{job.run_id}}`` are left alone: the
job runner fills them in when the task starts.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess  # git with fixed arguments only
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finml.bundle.loader import Bundle
from finml.errors import JobError

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
_MAX_DEPTH = 10


@dataclass(frozen=True)
class Context:
    """Everything ``${...}`` can refer to for one target."""

    values: dict[str, str]

    def lookup(self, name: str, where: str) -> str:
        if name in self.values:
            return self.values[name]
        if name.startswith("resources.") and name.endswith(".id"):
            return "local:" + name.removeprefix("resources.").removesuffix(".id")
        raise JobError(f"{where}: expected a defined reference, got ${{{name}}}")


def git_info(root: Path) -> dict[str, str]:
    """``commit`` and ``branch`` of the checkout at ``root`` ('' when not a git checkout)."""
    out = {}
    for key, args in (
        ("commit", ["rev-parse", "HEAD"]),
        ("branch", ["rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
            out[key] = done.stdout.strip() if done.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            out[key] = ""
    return out


def build_context(bundle: Bundle, target: str, overrides: dict[str, str] | None = None) -> Context:
    """The reference values of ``target``.

    Raises:
        JobError: the target is unknown, a variable has no value, or a value refers to an
            unknown or cyclic reference.
    """
    targets = bundle.targets
    if target not in targets:
        raise JobError(
            f"databricks.yml: targets: expected one of {sorted(targets)}, got {target!r}"
        )
    spec = targets[target]
    git = git_info(bundle.root)
    workspace = spec.workspace or bundle.workspace
    local = target == "local" or workspace is None or workspace.root_path is None
    root_path = str(bundle.root) if local else str(workspace.root_path)  # type: ignore[union-attr]
    values = {
        "bundle.name": bundle.name,
        "bundle.target": target,
        "bundle.git.commit": git["commit"],
        "bundle.git.branch": git["branch"],
        "workspace.current_user.userName": getpass.getuser(),
        "workspace.current_user.short_name": getpass.getuser(),
    }
    if root_path.startswith("~/"):  # as the Databricks CLI expands it
        root_path = f"/Workspace/Users/{values['workspace.current_user.userName']}/{root_path[2:]}"
    values["workspace.root_path"] = _expand(root_path, values, "workspace.root_path")
    values["workspace.file_path"] = (
        values["workspace.root_path"] if local else values["workspace.root_path"] + "/files"
    )
    raw_vars: dict[str, Any] = {name: var.default for name, var in bundle.variables.items()}
    for name, value in spec.variables.items():
        if name not in bundle.variables:
            raise JobError(
                f"databricks.yml: targets.{target}.variables.{name}: expected a variable "
                f"declared under 'variables', got an undeclared one"
            )
        raw_vars[name] = value
    for name in raw_vars:
        env_value = os.environ.get(f"BUNDLE_VAR_{name}")
        if env_value is not None:
            raw_vars[name] = env_value
    for name, value in (overrides or {}).items():
        if name not in raw_vars:
            raise JobError(f"--var {name}: expected one of {sorted(raw_vars)}, got {name!r}")
        raw_vars[name] = value
    for name, value in raw_vars.items():
        if value is None:
            raise JobError(
                f"databricks.yml: variables.{name}: expected a default or a value in "
                f"targets.{target}.variables, got none"
            )
        values[f"var.{name}"] = str(value)
    for name in raw_vars:  # variables may refer to bundle.* or other variables
        values[f"var.{name}"] = _expand(values[f"var.{name}"], values, f"variables.{name}")
    return Context(values)


def _expand(text: str, values: dict[str, str], where: str) -> str:
    for _ in range(_MAX_DEPTH):
        if not REFERENCE.search(text):
            return text
        text = REFERENCE.sub(lambda m: Context(values).lookup(m.group(1), where), text)
    raise JobError(f"{where}: expected references to resolve, got a cycle in {text!r}")


def resolve(node: Any, context: Context, where: str = "") -> Any:
    """``node`` with every ``${...}`` string replaced (recursively through lists and dicts).

    Raises:
        JobError: a reference is unknown; the message names the key path ``where``.
    """
    if isinstance(node, str):
        return _expand(node, context.values, where or "<value>")
    if isinstance(node, list):
        return [resolve(item, context, f"{where}[{i}]") for i, item in enumerate(node)]
    if isinstance(node, dict):
        return {
            k: resolve(v, context, f"{where}.{k}" if where else str(k)) for k, v in node.items()
        }
    return node


def references(node: Any) -> list[str]:
    """Every ``${...}`` name used in ``node`` (for validation)."""
    if isinstance(node, str):
        return REFERENCE.findall(node)
    if isinstance(node, list):
        return [name for item in node for name in references(item)]
    if isinstance(node, dict):
        return [name for value in node.values() for name in references(value)]
    return []
