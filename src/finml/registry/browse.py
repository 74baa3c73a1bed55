"""Read-only views of the tracking store and the registry, as JSON-ready dicts: experiments,
runs (search, one run, a metric's history, an artifact listing) and registered models with
their versions. The MLOps API (``/mlops``) serves them.

Metric values that are not finite (MLflow keeps NaN and inf) are given as None: JSON has
no such numbers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from finml.errors import DataError, ModelNotFound
from finml.registry.store import CHAMPION, VersionInfo, client

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from finml.config import ProjectConfig

ARCHIVED_TAG, ROLLED_BACK_TAG = "finml.archived", "finml.rolled_back"
TAG_PREFIX = "finml."


def finite(value: Any) -> Any:
    """``value``, with a non-finite float as None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def experiments(config: ProjectConfig) -> list[dict[str, Any]]:
    """Every active experiment, by name."""
    found = client(config).search_experiments()
    return sorted(
        (
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": e.lifecycle_stage,
                "artifact_location": e.artifact_location,
                "creation_time": e.creation_time,
                "tags": dict(e.tags or {}),
            }
            for e in found
        ),
        key=lambda e: e["name"],
    )


def search_runs(
    config: ProjectConfig, experiment: str | None, filter_string: str, max_results: int
) -> list[dict[str, Any]]:
    """Runs of ``experiment`` (a name or an id; None: every active experiment) matching
    MLflow's ``filter_string``, newest first.

    Raises:
        ModelNotFound: no such experiment. DataError: a filter MLflow cannot parse.
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(config)
    ids = (
        [_experiment_id(mlflow_client, experiment)]
        if experiment
        else [e.experiment_id for e in mlflow_client.search_experiments()]
    )
    try:
        runs = mlflow_client.search_runs(
            ids, filter_string, max_results=max_results, order_by=["attributes.start_time DESC"]
        )
    except MlflowException as exc:
        expected = f"filter: expected an MLflow search filter, got {filter_string!r}"
        raise DataError(f"{expected}: {exc.message}") from None
    return [run_dict(run) for run in runs]


def _experiment_id(mlflow_client: MlflowClient, experiment: str) -> str:
    from mlflow.exceptions import MlflowException

    found = mlflow_client.get_experiment_by_name(experiment)
    if found is None and experiment.isdigit():
        try:
            found = mlflow_client.get_experiment(experiment)
        except MlflowException:
            found = None
    if found is None:
        raise ModelNotFound(f"experiment: expected an experiment name or id, got {experiment!r}")
    return str(found.experiment_id)


def get_run(config: ProjectConfig, run_id: str) -> dict[str, Any]:
    """Run ``run_id`` with its params, latest metrics and tags.

    Raises:
        ModelNotFound: no such run (named).
    """
    return run_dict(_run(client(config), run_id))


def _run(mlflow_client: MlflowClient, run_id: str) -> Run:
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_run(run_id)
    except MlflowException:
        raise ModelNotFound(f"no MLflow run {run_id!r} in the tracking store") from None


def run_dict(run: Run) -> dict[str, Any]:
    info, data = run.info, run.data
    return {
        "run_id": info.run_id,
        "run_name": info.run_name or "",
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
        "params": dict(data.params),
        "metrics": {k: finite(v) for k, v in data.metrics.items()},
        "tags": dict(data.tags),
    }


def metric_history(config: ProjectConfig, run_id: str, key: str) -> list[dict[str, Any]]:
    """Every logged value of metric ``key`` of run ``run_id``, by step and time.

    Raises:
        ModelNotFound: no such run, or the run never logged ``key``.
    """
    mlflow_client = client(config)
    _run(mlflow_client, run_id)
    history = mlflow_client.get_metric_history(run_id, key)
    if not history:
        raise ModelNotFound(f"run {run_id}: expected a logged metric {key!r}, found none")
    return [
        {"step": m.step, "timestamp": m.timestamp, "value": finite(m.value)}
        for m in sorted(history, key=lambda m: (m.step, m.timestamp))
    ]


def artifacts(config: ProjectConfig, run_id: str, path: str | None) -> list[dict[str, Any]]:
    """The artifacts directly under ``path`` (None: the root) of run ``run_id``.

    Raises:
        DataError: ``path`` is absolute or climbs out (``..``). ModelNotFound: no such run.
    """
    if path and (path.startswith(("/", "\\")) or ".." in path.replace("\\", "/").split("/")):
        raise DataError(f"path: expected a relative artifact path inside the run, got {path!r}")
    mlflow_client = client(config)
    _run(mlflow_client, run_id)
    return [
        {"path": f.path, "is_dir": bool(f.is_dir), "file_size": f.file_size}
        for f in mlflow_client.list_artifacts(run_id, path or None)
    ]


def registered_models(config: ProjectConfig) -> list[dict[str, Any]]:
    """Every registered model with its aliases and versions (newest first)."""
    from finml.registry.store import versions

    mlflow_client = client(config)
    found = []
    for model in sorted(mlflow_client.search_registered_models(), key=lambda m: m.name):
        aliases = {alias: int(v) for alias, v in (model.aliases or {}).items()}
        found.append(
            {
                "name": model.name,
                "aliases": aliases,
                "versions": [version_dict(v) for v in versions(config, model.name)],
            }
        )
    return found


def model_version(config: ProjectConfig, name: str, version: int) -> dict[str, Any]:
    """Version ``version`` of registered model ``name``.

    Raises:
        ModelNotFound: no such model or version (both named).
    """
    from mlflow.exceptions import MlflowException

    mlflow_client = client(config)
    try:
        mv = mlflow_client.get_model_version(name, str(version))
    except MlflowException:
        raise ModelNotFound(
            f"model {name!r}: expected a registered version {version}, found none"
        ) from None
    aliases = mlflow_client.get_registered_model(name).aliases or {}
    held = [alias for alias, held_by in aliases.items() if int(held_by) == version]
    return version_dict(VersionInfo(name, version, mv.run_id, tuple(sorted(held)), dict(mv.tags)))


def version_dict(info: VersionInfo) -> dict[str, Any]:
    """A version with its aliases, archived / rolled-back flags and ``finml.*`` tags."""
    return {
        "name": info.name,
        "version": info.version,
        "run_id": info.run_id,
        "aliases": list(info.aliases),
        "champion": CHAMPION in info.aliases,
        "archived": info.tags.get(ARCHIVED_TAG) == "true",
        "rolled_back": info.tags.get(ROLLED_BACK_TAG) == "true",
        "tags": {k: v for k, v in info.tags.items() if k.startswith(TAG_PREFIX)},
    }
