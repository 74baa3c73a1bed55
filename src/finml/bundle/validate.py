"""``finml bundle validate``: schema, references and cycles, every message naming file and key.

Every file is validated against the Databricks bundle schema (every resource and task type,
by :mod:`finml.bundle.schema`, which explains how). FinML's own checks, beyond the schema:

* every target resolves (declared variables only, every variable has a value);
* ``${var.*}`` / ``${bundle.*}`` / ``${resources.*}`` references exist;
* ``spark_python_task.python_file`` and pipeline library files exist (relative to the YAML
  file that names them, as the Databricks CLI resolves them);
* ``depends_on`` keys exist, are unique and form no cycle; ``environment_key`` is declared;
* each task has exactly one ``*_task`` block (the schema allows none or several);
* ``{{tasks.<t>.values.<k>}}`` names an upstream task; schedules resolve to PAUSED/UNPAUSED.

The checks that need a task's script, schedule or environment run on the jobs FinML's local
runner can execute (:class:`finml.bundle.models.Job`); the graph checks run on every job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from finml.bundle.cron import QuartzCron
from finml.bundle.dag import TASK_VALUE_REF, dependency_problems, upstream
from finml.bundle.endpoint import endpoint_problems
from finml.bundle.loader import Bundle, Problem, load_bundle
from finml.bundle.models import Job, JobGraph, Pipeline, Task
from finml.bundle.variables import Context, build_context, resolve
from finml.errors import JobError, ScheduleError

_STATIC_REFS = ("bundle.", "workspace.")


def validate_bundle(
    root: str | Path = ".", target: str | None = None, overrides: dict[str, str] | None = None
) -> tuple[Bundle, list[Problem]]:
    """Load the bundle at ``root`` and return it with every problem found (empty = valid).

    ``target``: the target about to be deployed (``overrides``: its ``--var`` values); its
    serving endpoint then needs a champion version. Without it every target is checked as
    the default deploy sees it.
    """
    bundle = load_bundle(root)
    problems = list(bundle.problems)
    if target is not None and target not in bundle.targets:
        where = f"targets.{target}"
        return bundle, [
            Problem("databricks.yml", where, f"expected one of {sorted(bundle.targets)}")
        ]
    contexts: dict[str, Context] = {}
    for name in bundle.targets:
        try:
            contexts[name] = build_context(bundle, name, overrides if name == target else None)
        except JobError as exc:
            problems.append(Problem("databricks.yml", f"targets.{name}", str(exc)))
    problems += _catalog_problems(bundle, contexts)
    problems += _target_problems(bundle, contexts, target)
    context = contexts.get("local") or next(iter(contexts.values()), None)
    for kind, entries in bundle.resources.items():
        for key, raw in entries.items():
            file = bundle.source_of(kind, key)
            problems += _reference_problems(bundle, raw, file, f"resources.{kind}.{key}")
    for key, raw in bundle.jobs.items():
        problems += _graph_problems(bundle, key, raw)
        job = _model(Job, raw)
        if job is not None and context is not None:
            file = bundle.source_of("jobs", key)
            problems += _job_problems(bundle, key, job, file, context)
    for key, raw in bundle.pipelines.items():
        file = bundle.source_of("pipelines", key)
        pipeline = _model(Pipeline, raw)
        if pipeline is not None and context is not None:
            problems += _pipeline_problems(bundle, key, pipeline, file, context)
    return bundle, _unique(problems)


_Model = TypeVar("_Model", bound=BaseModel)


def _target_problems(
    bundle: Bundle, contexts: dict[str, Context], deployed: str | None
) -> list[Problem]:
    """References of the resources only one target has, and each target's serving endpoint
    (the ``deployed`` target's needs a champion version)."""
    out = []
    for name, found in bundle.target_resources.items():
        for kind, entries in found.items():
            for key, raw in entries.items():
                file = bundle.sources.get(f"targets.{name}.{kind}.{key}", bundle.root)
                where = f"targets.{name}.resources.{kind}.{key}"
                out += _reference_problems(bundle, raw, file, where)
    for name, context in contexts.items():
        out += endpoint_problems(bundle, name, context, require_champion=name == deployed)
    return out


def _catalog_problems(bundle: Bundle, contexts: dict[str, Context]) -> list[Problem]:
    """Each target's ``catalog`` variable must be the catalog its ``env`` has in the
    project's ``project_config.yml`` (the jobs pass the first, the CLI reads the second)."""
    from finml.config import ProjectConfig
    from finml.errors import ConfigError

    path = bundle.root / "project_config.yml"
    if not path.is_file():
        return []
    out = []
    for target, context in contexts.items():
        env, catalog = context.values.get("var.env"), context.values.get("var.catalog")
        if env is None or catalog is None:
            continue
        try:
            expected = ProjectConfig.from_yaml(path, env).catalog
        except ConfigError as exc:
            out.append(Problem("databricks.yml", f"targets.{target}.variables.env", str(exc)))
            continue
        if catalog.lower() != expected:
            out.append(
                Problem(
                    "databricks.yml",
                    f"targets.{target}.variables.catalog",
                    f"expected {expected} (environments.{env}.catalog of project_config.yml), "
                    f"got {catalog}",
                )
            )
    return out


def _model(model: type[_Model], raw: Any) -> _Model | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None  # the schema reported it, or a job only Databricks runs (notebook_task)


def _graph_problems(bundle: Bundle, key: str, raw: Any) -> list[Problem]:
    """Task kinds, dependencies and cycles of any job, whatever its task types."""
    name, base = bundle.rel(bundle.source_of("jobs", key)), f"resources.jobs.{key}"
    tasks = raw.get("tasks") if isinstance(raw, dict) else None
    found = [
        (f"tasks[{i}]{path}", msg)
        for i, task in enumerate(tasks if isinstance(tasks, list) else [])
        for path, msg in _kind_problems(task)
    ]
    graph = _model(JobGraph, raw)
    found += dependency_problems(graph.tasks) if graph is not None else []
    return [Problem(name, f"{base}.{path}", msg) for path, msg in found]


def _kind_problems(task: Any) -> list[tuple[str, str]]:
    if not isinstance(task, dict):
        return []  # reported by the schema
    kinds = [k for k in task if k.endswith("_task")]
    out = []
    if len(kinds) != 1:
        out.append(
            ("", f"expected exactly one of the task types (a *_task), got {kinds or 'none'}")
        )
    inner = task.get("for_each_task")
    if isinstance(inner, dict):
        out += [(f".for_each_task.task{p}", m) for p, m in _kind_problems(inner.get("task"))]
    return out


def _reference_problems(bundle: Bundle, raw: Any, file: Path, where: str) -> list[Problem]:
    out = []
    for path, name in _walk_refs(raw, where):
        known = (
            (name.startswith("var.") and name[4:] in bundle.variables)
            or name.startswith(_STATIC_REFS)
            or _resource_ref_exists(bundle, name)
        )
        if not known:
            out.append(
                Problem(bundle.rel(file), path, f"expected a defined reference, got ${{{name}}}")
            )
    return out


def _resource_ref_exists(bundle: Bundle, name: str) -> bool:
    """``resources.<kind>.<key>.<field>`` names a resource of the bundle (any field: the CLI
    resolves a configured one or a deploy-time one such as ``id``)."""
    parts = name.split(".")
    if len(parts) < 4 or parts[0] != "resources":
        return False
    return parts[2] in bundle.resources.get(parts[1], {})


def _walk_refs(node: Any, where: str) -> list[tuple[str, str]]:
    from finml.bundle.variables import REFERENCE

    if isinstance(node, str):
        return [(where, name) for name in REFERENCE.findall(node)]
    if isinstance(node, list):
        return [r for i, item in enumerate(node) for r in _walk_refs(item, f"{where}[{i}]")]
    if isinstance(node, dict):
        return [r for k, v in node.items() for r in _walk_refs(v, f"{where}.{k}")]
    return []


def _job_problems(
    bundle: Bundle, key: str, job: Job, file: Path, context: Context
) -> list[Problem]:
    name, base = bundle.rel(file), f"resources.jobs.{key}"
    out: list[Problem] = []
    envs = {e.environment_key for e in job.environments}
    for i, task in enumerate(job.tasks):
        where = f"{base}.tasks[{i}]"
        for path, msg in _task_problems(task, file, context, job.tasks, envs):
            out.append(Problem(name, f"{where}.{path}", msg))
    if job.schedule is not None:
        status = _safe_resolve(job.schedule.pause_status, context)
        if status not in ("PAUSED", "UNPAUSED"):
            out.append(
                Problem(
                    name,
                    f"{base}.schedule.pause_status",
                    f"expected PAUSED or UNPAUSED, got {status!r}",
                )
            )
        schedule = job.schedule
        try:
            QuartzCron(
                _safe_resolve(schedule.quartz_cron_expression, context),
                _safe_resolve(schedule.timezone_id, context),
            )
        except ScheduleError as exc:  # "<field>: expected ..., got ..."
            field, _, message = str(exc).partition(": ")
            out.append(Problem(name, f"{base}.schedule.{field}", message))
    return out


def _task_problems(
    task: Task, file: Path, context: Context, tasks: list[Task], envs: set[str]
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if task.spark_python_task is not None:
        path = _local_path(task.spark_python_task.python_file, file, context)
        if not path.is_file():
            out.append(
                (
                    "spark_python_task.python_file",
                    f"expected an existing script, got {path} (missing)",
                )
            )
    if task.for_each_task is not None:
        inner = task.for_each_task.task
        for key, msg in _task_problems(inner, file, context, tasks, envs):
            out.append((f"for_each_task.task.{key}", msg))
    if task.environment_key and task.environment_key not in envs:
        out.append(
            ("environment_key", f"expected one of {sorted(envs)}, got {task.environment_key!r}")
        )
    ups = upstream(tasks, task.task_key)
    for text in _task_strings(task):
        for ref_task, _value in TASK_VALUE_REF.findall(text):
            if ref_task not in ups:
                out.append(
                    (
                        task.kind,
                        f"expected {{{{tasks.{ref_task}.values...}}}} to name an upstream task "
                        f"of {task.task_key!r}, got {ref_task!r}",
                    )
                )
    return out


def _task_strings(task: Task) -> list[str]:
    if task.condition_task is not None:
        return [task.condition_task.left, task.condition_task.right]
    if task.spark_python_task is not None:
        return task.spark_python_task.parameters
    if task.python_wheel_task is not None:
        return [
            *task.python_wheel_task.parameters,
            *task.python_wheel_task.named_parameters.values(),
        ]
    if task.for_each_task is not None:
        return [task.for_each_task.inputs]
    return []


def _pipeline_problems(
    bundle: Bundle, key: str, pipeline: Pipeline, file: Path, context: Context
) -> list[Problem]:
    out = []
    for i, library in enumerate(pipeline.libraries):
        for kind in ("file", "notebook"):
            spec = getattr(library, kind)
            if not spec:
                continue
            path = _local_path(spec["path"], file, context)
            if not (path.is_file() or path.with_suffix(".py").is_file()):
                out.append(
                    Problem(
                        bundle.rel(file),
                        f"resources.pipelines.{key}.libraries[{i}].{kind}.path",
                        f"expected an existing source file, got {path} (missing)",
                    )
                )
    return out


def local_path(path: str, file: Path, context: Context) -> Path:
    """Where a YAML path points on this machine (relative to the YAML ``file``)."""
    return _local_path(path, file, context)


def _local_path(path: str, file: Path, context: Context) -> Path:
    resolved = Path(_safe_resolve(path, context))
    return resolved if resolved.is_absolute() else (file.parent / resolved).resolve()


def _safe_resolve(text: str, context: Context) -> str:
    try:
        return str(resolve(text, context))
    except JobError:
        return text


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
