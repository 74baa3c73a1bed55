"""Load a bundle: ``databricks.yml`` plus its ``include`` globs, each file validated.

Each file is checked against the Databricks bundle schema (:mod:`finml.bundle.schema`).
:func:`load_bundle` returns a :class:`Bundle` that remembers which file declared each
resource (so every later message can name it) and the raw, unresolved YAML (so variables are
resolved per target by :mod:`finml.bundle.variables`). Problems are collected, not raised one
at a time, so ``finml bundle validate`` can list all of them. As with the Databricks CLI, a
key given twice in one mapping is a problem (PyYAML alone would keep the last silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from finml.bundle.models import Job, Pipeline
from finml.bundle.schema import Target, Variable, Workspace, schema_problems
from finml.config_file import load_yaml
from finml.errors import JobError
from finml.settings_base import loc_path, problem_text

BUNDLE_FILE = "databricks.yml"
RUNNER_UNKNOWN = "unknown field (valid in the bundle schema, but not run by FinML's local runner)"
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the bundle, located by file and key path."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


@dataclass
class Bundle:
    """A loaded bundle. ``resources[kind][key]`` holds each raw (unresolved) mapping."""

    root: Path
    raw_root: dict[str, Any]
    workspace: Workspace | None = None
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Resources only one target deploys: target -> kind -> key -> raw mapping (from
    # ``targets.<t>.resources`` of databricks.yml or of an included file).
    target_resources: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)  # "jobs.<key>" -> file
    problems: list[Problem] = field(default_factory=list)

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.resources.setdefault("jobs", {})

    @property
    def pipelines(self) -> dict[str, dict[str, Any]]:
        return self.resources.setdefault("pipelines", {})

    @property
    def name(self) -> str:
        bundle = self.raw_root.get("bundle")
        return str(bundle.get("name", "bundle")) if isinstance(bundle, dict) else "bundle"

    def source_of(self, kind: str, key: str) -> Path:
        return self.sources.get(f"{kind}.{key}", self.root / BUNDLE_FILE)

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def load_bundle(root: str | Path = ".") -> Bundle:
    """Read ``<root>/databricks.yml`` and every included file.

    Returns a :class:`Bundle`; its ``problems`` list YAML and schema errors (unknown fields,
    wrong types, missing required fields, duplicate resource keys). Raises nothing for bad
    content.
    """
    root = Path(root).resolve()
    main = root / BUNDLE_FILE
    raw, problems = _read_yaml(main, root)
    bundle = Bundle(root=root, raw_root=raw, problems=problems)
    # Sections are also read one by one, so one bad key does not hide the rest of the bundle.
    if raw.get("workspace") is not None:
        bundle.workspace = _entry(Workspace, raw["workspace"])
    bundle.targets.update(_entries(Target, raw.get("targets")))
    _add_file(bundle, raw, main, checked=not problems, root=True)
    for pattern in raw.get("include", []) or []:
        files = sorted(root.glob(pattern))
        if not files:
            bundle.problems.append(
                Problem(BUNDLE_FILE, "include", f"expected files matching {pattern!r}, got none")
            )
        for file in files:
            data, file_problems = _read_yaml(file, root)
            bundle.problems.extend(file_problems)
            _add_file(bundle, data, file, checked=not file_problems)
    return bundle


def _add_file(
    bundle: Bundle, data: dict[str, Any], file: Path, *, checked: bool, root: bool = False
) -> None:
    """Add one file's variables and resources; ``checked``: its schema problems too (not
    for a file that is missing or no YAML mapping, already reported)."""
    if checked:
        found = schema_problems(data, root=root)
        bundle.problems.extend(Problem(bundle.rel(file), key, msg) for key, msg in found)
    bundle.variables.update(_entries(Variable, data.get("variables")))
    _collect(bundle, data, file)
    targets = data.get("targets")
    for target, spec in targets.items() if isinstance(targets, dict) else ():
        if isinstance(spec, dict) and isinstance(spec.get("resources"), dict):
            _collect_target(bundle, target, spec["resources"], file)


def _collect_target(bundle: Bundle, target: str, resources: dict[str, Any], file: Path) -> None:
    """A target's own resources (an included file may add them, as the Databricks CLI
    merges every file's ``targets``); the target itself must be declared in databricks.yml."""
    if target not in bundle.targets:
        where = f"targets.{target}"
        bundle.problems.append(
            Problem(bundle.rel(file), where, f"expected a target of {BUNDLE_FILE}, got {target!r}")
        )
        return
    for kind, entries in resources.items():
        store = bundle.target_resources.setdefault(target, {}).setdefault(kind, {})
        for key, spec in entries.items() if isinstance(entries, dict) else ():
            store[key] = spec
            bundle.sources[f"targets.{target}.{kind}.{key}"] = file


def _entries(model: type[_Model], section: Any) -> dict[str, _Model]:
    items = section.items() if isinstance(section, dict) else ()
    parsed = {key: _entry(model, value) for key, value in items}
    return {key: value for key, value in parsed.items() if value is not None}


def _entry(model: type[_Model], value: Any) -> _Model | None:
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError:
        return None  # reported by the schema validation of the whole file


def _read_yaml(file: Path, root: Path) -> tuple[dict[str, Any], list[Problem]]:
    name = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
    if not file.is_file():
        return {}, [Problem(name, "<file>", "expected an existing YAML file, got none")]
    try:
        data = load_yaml(file.read_text()) or {}
    except yaml.YAMLError as exc:
        return {}, [Problem(name, "<file>", f"expected valid YAML, got: {exc}")]
    if not isinstance(data, dict):
        return {}, [Problem(name, "<root>", f"expected a mapping, got {type(data).__name__}")]
    return data, []


def _collect(bundle: Bundle, data: dict[str, Any], file: Path) -> None:
    resources = data.get("resources") or {}
    if not isinstance(resources, dict):
        return
    for kind, entries in resources.items():
        store = bundle.resources.setdefault(kind, {})
        for key, spec in entries.items() if isinstance(entries, dict) else ():
            if key in store:
                first = bundle.rel(bundle.source_of(kind, key))
                bundle.problems.append(
                    Problem(
                        bundle.rel(file),
                        f"resources.{kind}.{key}",
                        f"expected a unique key, got one already defined in {first}",
                    )
                )
                continue
            store[key] = spec
            bundle.sources[f"{kind}.{key}"] = file


def parse_job(bundle: Bundle, key: str, resolved: dict[str, Any]) -> Job:
    """Validate one resolved job mapping against what the local runner executes.

    Raises:
        JobError: the mapping does not fit :class:`Job`; the message names file and keys.
    """
    return _parse(Job, bundle, "jobs", key, resolved)


def parse_pipeline(bundle: Bundle, key: str, resolved: dict[str, Any]) -> Pipeline:
    """Validate one resolved pipeline mapping (raises :class:`JobError` like parse_job)."""
    return _parse(Pipeline, bundle, "pipelines", key, resolved)


def _parse(
    model: type[_Model], bundle: Bundle, kind: str, key: str, resolved: dict[str, Any]
) -> _Model:
    file = bundle.rel(bundle.source_of(kind, key))
    try:
        return model.model_validate(resolved)
    except ValidationError as exc:
        problems = [
            Problem(
                file,
                loc_path(("resources", kind, key, *err["loc"])),
                problem_text(err, unknown=RUNNER_UNKNOWN),
            )
            for err in exc.errors()
        ]
        raise JobError("; ".join(str(p) for p in problems)) from None
