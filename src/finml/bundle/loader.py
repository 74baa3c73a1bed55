"""Load a bundle: ``databricks.yml`` plus its ``include`` globs, each file validated.

:func:`load_bundle` returns a :class:`Bundle` that remembers which file declared each job and
pipeline (so every later message can name it) and the raw, unresolved YAML (so variables are
resolved per target by :mod:`finml.bundle.variables`). Problems are collected, not raised one
at a time, so ``finml bundle validate`` can list all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from finml.bundle.models import (
    BundleRoot,
    Job,
    Pipeline,
    ResourceFile,
    Resources,
    Target,
    Variable,
)
from finml.errors import JobError
from finml.settings_base import loc_path, problem_text

BUNDLE_FILE = "databricks.yml"


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
    """A loaded bundle. ``jobs``/``pipelines`` hold raw (unresolved) mappings by key."""

    root: Path
    root_model: BundleRoot | None
    raw_root: dict[str, Any]
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)  # "jobs.<key>" -> file
    problems: list[Problem] = field(default_factory=list)

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
    """Read ``<root>/databricks.yml`` and every included resource file.

    Returns a :class:`Bundle`; its ``problems`` list YAML and schema errors (unknown fields,
    wrong types, duplicate resource keys). Raises nothing for bad content.
    """
    root = Path(root).resolve()
    main = root / BUNDLE_FILE
    raw, problems = _read_yaml(main, root)
    bundle = Bundle(root=root, root_model=None, raw_root=raw, problems=problems)
    if raw:
        bundle.root_model = _validate(BundleRoot, raw, BUNDLE_FILE, bundle.problems)
    # Sections are also read one by one, so one bad key does not hide the rest of the bundle.
    bundle.variables.update(_entries(Variable, raw.get("variables")))
    bundle.targets.update(_entries(Target, raw.get("targets")))
    _collect(bundle, raw, main)
    for pattern in raw.get("include", []) or []:
        files = sorted(root.glob(pattern))
        if not files:
            bundle.problems.append(
                Problem(BUNDLE_FILE, "include", f"expected files matching {pattern!r}, got none")
            )
        for file in files:
            data, file_problems = _read_yaml(file, root)
            bundle.problems.extend(file_problems)
            model = _validate(ResourceFile, data, bundle.rel(file), bundle.problems)
            if model is not None:
                bundle.variables.update(model.variables)
            _collect(bundle, data, file)
    return bundle


def _entries(model: type[BaseModel], section: Any) -> dict[str, Any]:
    out = {}
    for key, value in (section or {}).items() if isinstance(section, dict) else ():
        try:
            out[key] = model.model_validate(value if value is not None else {})
        except ValidationError:
            continue  # reported by the whole-file validation
    return out


def _read_yaml(file: Path, root: Path) -> tuple[dict[str, Any], list[Problem]]:
    name = str(file.relative_to(root)) if file.is_relative_to(root) else str(file)
    if not file.is_file():
        return {}, [Problem(name, "<file>", "expected an existing YAML file, got none")]
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        return {}, [Problem(name, "<file>", f"expected valid YAML, got: {exc}")]
    if not isinstance(data, dict):
        return {}, [Problem(name, "<root>", f"expected a mapping, got {type(data).__name__}")]
    return data, []


_Model = TypeVar("_Model", bound=BaseModel)


def _validate(
    model: type[_Model], data: dict[str, Any], file: str, problems: list[Problem]
) -> _Model | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, file))
        return None


def _problems(exc: ValidationError, file: str) -> list[Problem]:
    unknown = "unknown field (not in the Databricks bundle schema FinML accepts)"
    return [
        Problem(file, loc_path(err["loc"]) or "<root>", problem_text(err, unknown=unknown))
        for err in exc.errors()
    ]


def _collect(bundle: Bundle, data: dict[str, Any], file: Path) -> None:
    resources = data.get("resources") or {}
    if not isinstance(resources, dict):
        return
    for kind, store in (("jobs", bundle.jobs), ("pipelines", bundle.pipelines)):
        for key, spec in (resources.get(kind) or {}).items():
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
    """Validate one resolved job mapping.

    Raises:
        JobError: the mapping does not fit :class:`Job`; the message names file and keys.
    """
    return _resources(bundle, "jobs", key, resolved).jobs[key]


def parse_pipeline(bundle: Bundle, key: str, resolved: dict[str, Any]) -> Pipeline:
    """Validate one resolved pipeline mapping (raises :class:`JobError` like parse_job)."""
    return _resources(bundle, "pipelines", key, resolved).pipelines[key]


def _resources(bundle: Bundle, kind: str, key: str, resolved: dict[str, Any]) -> Resources:
    file = bundle.rel(bundle.source_of(kind, key))
    problems: list[Problem] = []
    model = _validate(ResourceFile, {"resources": {kind: {key: resolved}}}, file, problems)
    if model is None:
        raise JobError("; ".join(str(p) for p in problems))
    return model.resources
