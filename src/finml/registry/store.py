"""The MLflow client: tracking and registry URIs, registered names, versions and aliases
(re-exported by :mod:`finml.registry`)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finml.errors import ModelNotFound
from finml.log import get_logger

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from finml.config import ProjectConfig

log = get_logger("registry")

CHAMPION, CHALLENGER, PREVIOUS, LATEST = (
    "champion",
    "challenger",
    "previous-champion",
    "latest-model",
)
ANOMALY_MODEL, REGIME_MODEL = "anomaly_model", "regime_model"
EXPERIMENT = "finml"
# One experiment per purpose, as MLflow's UI expects (`finml` holds what has none)
ANOMALY_EXPERIMENT, REGIME_EXPERIMENT = "finml-anomaly-model", "finml-regime-model"
# The regime model's four studies beside its model runs (finml.regimes.experiments)
REGIME_STUDIES = {
    kind: f"finml-regime-{kind}" for kind in ("baseline", "absorbing", "comparison", "sensitivity")
}
# Opens an experiment in MLflow 3's UI as model development, not GenAI
_ML_EXPERIMENT = {"mlflow.experimentKind": "custom_model_development"}


def configure(config: ProjectConfig, experiment: str = EXPERIMENT) -> str:
    """Point MLflow at ``config``'s tracking and registry stores; return the experiment id.

    Creates the local store folders and the experiment (with its artifact location under
    ``home/mlartifacts``) on first use.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    if config.workspace == "local":
        config.home.mkdir(parents=True, exist_ok=True)
        config.artifact_dir.mkdir(parents=True, exist_ok=True)
    # mlflow.set_*_uri also export MLFLOW_*_URI into os.environ, where finml.config would
    # later read them as overrides for every config loaded in this process (another env
    # would silently get this store). MLflow keeps the URIs in its own state, so the
    # environment is restored.
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    name = experiment if config.workspace == "local" else f"/Shared/{config.project}/{experiment}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        experiment_id = found.experiment_id
        if not set(_ML_EXPERIMENT.items()) <= set(found.tags.items()):
            for key, value in _ML_EXPERIMENT.items():
                mlflow.MlflowClient().set_experiment_tag(experiment_id, key, value)
    else:
        location = config.artifact_dir.resolve().as_uri() if config.workspace == "local" else None
        experiment_id = mlflow.create_experiment(
            name, artifact_location=location, tags=_ML_EXPERIMENT
        )
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)


def client(config: ProjectConfig) -> MlflowClient:
    """An ``MlflowClient`` on ``config``'s stores (configuring MLflow first)."""
    from mlflow import MlflowClient

    configure(config)
    return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)


def model_name(config: ProjectConfig, short: str) -> str:
    """The registered name: ``catalog.schema.model`` (Unity Catalog style, also locally)."""
    return f"{config.catalog}.{config.db_schema}.{short}"


def model_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


def git_sha(default: str = "unknown") -> str:
    """The deployed commit: ``$FINML_GIT_SHA`` (set by the bundle), else ``git rev-parse``."""
    if sha := os.environ.get("FINML_GIT_SHA"):
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return default
    return out.stdout.strip() or default


def source_tags() -> dict[str, str]:
    """MLflow's own source tag for a run (the UI links the run to its commit), when known."""
    sha = git_sha()
    return {} if sha == "unknown" else {"mlflow.source.git.commit": sha}


def lineage_tags(config: ProjectConfig, **extra: Any) -> dict[str, str]:
    """Tags every run and model version carries: git sha, config hash, environment, plus
    ``extra`` (e.g. ``feature_table_version``, ``data_window``)."""
    tags = {
        "finml.git_sha": git_sha(),
        "finml.config_hash": config.config_hash(),
        "finml.env": config.env,
    }
    tags.update({f"finml.{k}": str(v) for k, v in extra.items() if v is not None})
    return tags


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    run_id: str | None
    aliases: tuple[str, ...]
    tags: dict[str, str]


def _info(mv: ModelVersion) -> VersionInfo:
    return VersionInfo(
        mv.name, int(mv.version), mv.run_id, tuple(mv.aliases or ()), dict(mv.tags or {})
    )


def register(
    config: ProjectConfig,
    model_uri_: str,
    name: str,
    *,
    aliases: tuple[str, ...] = (CHALLENGER, LATEST),
    tags: dict[str, str] | None = None,
) -> VersionInfo:
    """Register ``model_uri_`` (``runs:/…`` or a logged model URI) as a new version of
    ``name`` and set ``aliases`` and ``tags`` on it."""
    import mlflow

    configure(config)
    mv = mlflow.register_model(model_uri_, name, tags=tags or None)
    mlflow_client = client(config)
    for alias in aliases:
        mlflow_client.set_registered_model_alias(name, alias, mv.version)
    log.info("model_registered", model=name, version=int(mv.version), aliases=list(aliases))
    return _info(mlflow_client.get_model_version(name, mv.version))


def by_alias(config: ProjectConfig, name: str, alias: str) -> VersionInfo | None:
    """The version of ``name`` holding ``alias``, or None if the alias (or model) is unset."""
    from mlflow.exceptions import MlflowException

    try:
        return _info(client(config).get_model_version_by_alias(name, alias))
    except MlflowException:
        return None


def require_alias(config: ProjectConfig, name: str, alias: str) -> VersionInfo:
    """Like :func:`by_alias`, but raises :class:`ModelNotFound`."""
    found = by_alias(config, name, alias)
    if found is None:
        raise ModelNotFound(f"model {name}: expected a version with alias @{alias}, found none")
    return found


def require_version(config: ProjectConfig, name: str, version: int) -> VersionInfo:
    """The registered ``version`` of ``name``.

    Raises:
        ModelNotFound: ``name`` has no such version; the message lists the versions it has.
    """
    known = versions(config, name)
    for info in known:
        if info.version == version:
            return info
    have = ", ".join(str(v.version) for v in sorted(known, key=lambda v: v.version)) or "none"
    raise ModelNotFound(f"model {name}: expected a registered version {version}, found {have}")


def set_alias(config: ProjectConfig, name: str, alias: str, version: int) -> None:
    client(config).set_registered_model_alias(name, alias, str(version))
    log.info("alias_set", model=name, alias=alias, version=version)


def versions(config: ProjectConfig, name: str) -> list[VersionInfo]:
    """Every version of ``name``, newest first (empty if the model is not registered)."""
    mlflow_client = client(config)
    found = mlflow_client.search_model_versions(f"name = '{_quoted(name)}'")
    if not found:
        return []
    # search results may omit aliases (sqlite store): take them from the registered model
    held: dict[int, list[str]] = {}
    for alias, version in (mlflow_client.get_registered_model(name).aliases or {}).items():
        held.setdefault(int(version), []).append(alias)
    infos = [_info(mv) for mv in found]
    infos = [
        VersionInfo(i.name, i.version, i.run_id, tuple(sorted(held.get(i.version, ()))), i.tags)
        for i in infos
    ]
    return sorted(infos, key=lambda v: v.version, reverse=True)


def _quoted(name: str) -> str:
    from finml.names import TableName

    TableName.parse(name)  # registered names are validated three-part identifiers
    return name


def local_store_hint(config: ProjectConfig) -> str:
    """The command that opens the MLflow UI on the local store."""
    return f"mlflow ui --backend-store-uri {config.tracking_uri} --port 5000"
