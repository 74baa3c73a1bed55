"""Promotion and rollback on aliases only (MLflow's deprecated stages are not written).

=====================  =============================================================
alias                  meaning
=====================  =============================================================
``challenger``         the last registered challenger (what the old word Staging meant)
``champion``           the version in production (Production)
``previous-champion``  the champion a promotion replaced (Archived): rollback's target
=====================  =============================================================

A promoted version carries ``finml.previous_champion_version`` (the version it replaced), so
rollback can walk back more than one step: after a rollback ``previous-champion`` points at
the restored version's own predecessor (or is removed when there is none). The version a
rollback removed is tagged ``finml.rolled_back`` (a fact, not a stage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finml.errors import ModelNotFound
from finml.log import get_logger
from finml.registry import CHAMPION, PREVIOUS, by_alias, client

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.registry import VersionInfo

log = get_logger("registry.stages")

PREVIOUS_TAG, ROLLED_BACK_TAG = "finml.previous_champion_version", "finml.rolled_back"


def tag_version(config: ProjectConfig, name: str, version: int, tags: dict[str, str]) -> None:
    """Set ``tags`` on version ``version`` of ``name``."""
    mlflow_client = client(config)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, str(value))


def delete_alias(config: ProjectConfig, name: str, alias: str) -> None:
    """Remove ``alias`` from ``name`` (no error if it is unset)."""
    if by_alias(config, name, alias) is not None:
        client(config).delete_registered_model_alias(name, alias)


def promote(config: ProjectConfig, name: str, version: int) -> VersionInfo | None:
    """Make ``version`` the champion; the replaced champion becomes ``previous-champion``.
    ``challenger`` stays on the last challenger (it may now also be the
    champion), so champion, challenger and previous champion are always visible. Returns the
    replaced champion (None if there was none or it is the same version)."""
    current = by_alias(config, name, CHAMPION)
    mlflow_client = client(config)
    replaced = current if current is not None and current.version != version else None
    if replaced is not None:
        mlflow_client.set_registered_model_alias(name, PREVIOUS, str(replaced.version))
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(version))
    if replaced is not None:
        tag_version(config, name, version, {PREVIOUS_TAG: str(replaced.version)})
    log.info("champion_promoted", model=name, version=version,
             replaced=replaced and replaced.version)  # fmt: skip
    return replaced


def roll_back(config: ProjectConfig, name: str) -> tuple[VersionInfo, VersionInfo]:
    """Point ``champion`` at ``previous-champion``; returns (removed, restored) versions.

    Raises:
        ModelNotFound: ``name`` has no champion or no previous champion to return to.
    """
    current = by_alias(config, name, CHAMPION)
    previous = by_alias(config, name, PREVIOUS)
    if current is None or previous is None:
        raise ModelNotFound(
            f"model {name}: expected aliases @{CHAMPION} and @{PREVIOUS} to roll back, got "
            f"champion={current and current.version}, previous-champion="
            f"{previous and previous.version}"
        )
    mlflow_client = client(config)
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(previous.version))
    tag_version(config, name, current.version, {ROLLED_BACK_TAG: "true"})
    before = previous.tags.get(PREVIOUS_TAG)
    if before and before not in (str(current.version), str(previous.version)):
        mlflow_client.set_registered_model_alias(name, PREVIOUS, before)
    else:
        mlflow_client.delete_registered_model_alias(name, PREVIOUS)
    log.info("champion_rolled_back", model=name, removed=current.version, restored=previous.version)
    return current, by_alias(config, name, CHAMPION) or previous
