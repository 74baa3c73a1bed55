"""``GET /mlops/status`` and ``GET /mlops/serving``: the registry's aliases, what this server
serves, and the Delta versions of the tables an operator looks at first."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables
    from finml.serving.app import ServingState

# The tables an operator checks first: features, training splits, what was served and
# scored, and the audits of the model moves and alerts.
KEY_TABLES = (
    "trade_features",
    "train_set",
    "test_set",
    "predictions",
    "inference_log",
    "ab_tests",
    "champion_challenger_audit",
    "model_transitions",
    "rollback_audit",
    "alerts",
)


@dataclass(frozen=True)
class Clock:
    """When the MLOps routes were mounted (the server's start, to a few milliseconds)."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)

    def uptime(self) -> float:
        return round(time.monotonic() - self.started, 3)


def serving_info(state: ServingState, clock: Clock) -> dict[str, Any]:
    """The versions loaded in this process (not the registry's: the poller may lag by up
    to ``poll_seconds``), the A/B mode and the challenger's share."""
    current = state.slots.current
    return {
        "model_name": current.champion.name,
        "champion_version": current.champion.version,
        "challenger_version": None if current.challenger is None else current.challenger.version,
        "ab_mode": state.settings.ab.mode,
        "challenger_percent": state.settings.ab.challenger_percent,
        "started_at": clock.started_at,
        "uptime_seconds": clock.uptime(),
        "rows_logged": state.writer.rows_written,
    }


def table_versions(tables: DeltaTables, names: tuple[str, ...] = KEY_TABLES) -> dict[str, Any]:
    """Each table's current Delta version (None when it does not exist yet)."""
    found: dict[str, Any] = {}
    for name in names:
        table = tables.table(name)
        found[name] = table.version() if table.exists() else None
    return found


def status(state: ServingState, tables: DeltaTables, clock: Clock) -> dict[str, Any]:
    """Champion, challenger and previous champion in the registry, the server's state and
    the key tables' versions."""
    from finml.registry import CHALLENGER, CHAMPION, PREVIOUS, by_alias
    from finml.registry.browse import version_dict

    name = state.slots.current.champion.name

    def held(alias: str) -> dict[str, Any] | None:
        info = by_alias(state.config, name, alias)
        return None if info is None else version_dict(info)

    return {
        "model_name": name,
        "champion": held(CHAMPION),
        "challenger": held(CHALLENGER),
        "previous_champion": held(PREVIOUS),
        "serving": serving_info(state, clock),
        "tables": table_versions(tables),
    }
