"""MLflow tracking and registry access: one place that knows the URIs, names and aliases.

Locally tracking and registry are one sqlite store under ``home`` (``mlflow ui
--backend-store-uri sqlite:///.finml/mlflow.db`` shows every run), artifacts go to
``home/mlartifacts``. On Databricks tracking is ``databricks`` and the registry Unity Catalog
(``databricks-uc``), where model names are three-part (``catalog.schema.model``).

Aliases replace the old stage words: ``challenger`` (Staging), ``champion`` (Production),
``previous-champion`` (the last Archived champion, kept so rollback is one call) and
``latest-model`` (the newest registration). :mod:`finml.registry.stages` implements promotion
and rollback on the aliases (no stage tags).
"""

from finml.registry.store import (
    ANOMALY_EXPERIMENT,
    ANOMALY_MODEL,
    CHALLENGER,
    CHAMPION,
    EXPERIMENT,
    LATEST,
    PREVIOUS,
    REGIME_EXPERIMENT,
    REGIME_MODEL,
    REGIME_STUDIES,
    VersionInfo,
    by_alias,
    client,
    configure,
    git_sha,
    lineage_tags,
    local_store_hint,
    model_name,
    model_uri,
    register,
    require_alias,
    require_version,
    set_alias,
    source_tags,
    versions,
)

__all__ = [
    "ANOMALY_EXPERIMENT",
    "ANOMALY_MODEL",
    "CHALLENGER",
    "CHAMPION",
    "EXPERIMENT",
    "LATEST",
    "PREVIOUS",
    "REGIME_EXPERIMENT",
    "REGIME_MODEL",
    "REGIME_STUDIES",
    "VersionInfo",
    "by_alias",
    "client",
    "configure",
    "git_sha",
    "lineage_tags",
    "local_store_hint",
    "model_name",
    "model_uri",
    "register",
    "require_alias",
    "require_version",
    "set_alias",
    "source_tags",
    "versions",
]
