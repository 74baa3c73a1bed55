"""``GET /models``: registered versions, their aliases and key metrics, and what is loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.serving.models import Slots
    from finml.serving.settings import ServingSettings

# Metrics worth showing first when a run logged many.
KEY_METRICS = ("pr_auc", "roc_auc", "f1", "precision", "recall", "threshold", "brier")


def describe(config: ProjectConfig, current: Slots, settings: ServingSettings) -> dict[str, Any]:
    """A JSON-ready description of the served model (newest version first)."""
    from finml import registry

    name = current.champion.name
    mlflow_client = registry.client(config)
    # search_model_versions leaves aliases empty on some stores; the model record has them all
    by_version: dict[str, list[str]] = {}
    for alias, version in mlflow_client.get_registered_model(name).aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    versions = []
    for info in registry.versions(config, name):
        versions.append(
            {
                "version": str(info.version),
                "aliases": sorted(by_version.get(str(info.version), info.aliases)),
                "run_id": info.run_id,
                "metrics": _metrics(mlflow_client, info.run_id),
                "tags": info.tags,
            }
        )
    loaded = {"champion": str(current.champion.version)}
    if current.challenger is not None:
        loaded["challenger"] = str(current.challenger.version)
    return {
        "model_name": name,
        "features": list(current.champion.features),
        "loaded": loaded,
        "ab_mode": settings.ab.mode,
        "challenger_percent": settings.ab.challenger_percent,
        "versions": versions,
    }


def _metrics(mlflow_client: Any, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    try:
        found = mlflow_client.get_run(run_id).data.metrics
    except Exception:  # a version registered from outside a run, or a deleted run
        return {}
    keyed = {k: v for k, v in found.items() if any(key in k for key in KEY_METRICS)}
    return keyed or dict(list(found.items())[:10])
