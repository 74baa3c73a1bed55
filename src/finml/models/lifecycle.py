"""The champion's life cycle on top of the registry aliases: promotion (by the gate, after a
replay A/B, or manual) with the tags the automatic rollback check reads, and archiving a
rejected challenger.

Tags written on a promoted version (besides :mod:`finml.registry.stages`' previous-champion tag):

=========================  ===========================================================
``finml.promoted_at``      wall-clock time of the promotion (ISO, UTC)
``finml.promotion_event``  ``champion_challenger_audit.event_id`` of the decision
``finml.promotion_kind``   ``gate`` (no champion yet) | ``replay_ab`` | ``manual``
``finml.live_from``        event time from which the version's data is unseen (the end of
                           its holdout window): its first live monitoring windows start here
``finml.rollback_check``   ``pending`` → ``passed`` | ``rolled_back``; ``restored`` on the
                           version a rollback returned to (never re-checked)
=========================  ===========================================================

A rejected challenger gets ``finml.archived=true`` and ``finml.archived_reason``; it keeps
``@challenger`` until the next registration.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from finml.errors import ModelNotFound
from finml.log import get_logger
from finml.models.audit import CHAMPION_CHALLENGER_AUDIT, GATE_SCHEMA, append_rows
from finml.models.gate import Decision
from finml.registry import ANOMALY_MODEL, CHAMPION, VersionInfo, by_alias, client, model_name
from finml.registry.stages import promote, tag_version
from finml.vocabulary import GateDecision

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("models.lifecycle")

METRIC_TAG = "finml.metric."
PROMOTED_AT, PROMOTION_EVENT, PROMOTION_KIND = (
    "finml.promoted_at",
    "finml.promotion_event",
    "finml.promotion_kind",
)
LIVE_FROM, CHECK_TAG = "finml.live_from", "finml.rollback_check"
ARCHIVED_TAG, ARCHIVED_REASON = "finml.archived", "finml.archived_reason"
PENDING, PASSED, ROLLED_BACK, RESTORED = "pending", "passed", "rolled_back", "restored"
HOLDOUT_WINDOW, DATA_WINDOW = "finml.holdout_window", "finml.data_window"


def version_info(config: ProjectConfig, name: str, version: int) -> VersionInfo:
    """Version ``version`` of ``name`` with its tags.

    Raises:
        ModelNotFound: no such version.
    """
    from mlflow.exceptions import MlflowException

    try:
        mv = client(config).get_model_version(name, str(version))
    except MlflowException:
        raise ModelNotFound(
            f"model {name}: expected a registered version {version}, found none"
        ) from None
    return VersionInfo(name, int(mv.version), mv.run_id, tuple(mv.aliases or ()), dict(mv.tags))


def window_end(tags: dict[str, str], key: str) -> datetime | None:
    """The end of the ``first/last`` ISO window in tag ``key`` (UTC), None if absent."""
    value = tags.get(key) or ""
    last = value.rpartition("/")[2]
    if not last:
        return None
    try:
        parsed = datetime.fromisoformat(last)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def live_from(tags: dict[str, str]) -> datetime | None:
    """The ``finml.live_from`` tag of a promoted version (UTC), None if absent or invalid:
    windows starting earlier are its training or holdout data, not production."""
    value = tags.get(LIVE_FROM) or ""
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def registered_metric(tags: dict[str, str], metric: str = "pr_auc") -> float | None:
    """The holdout ``metric`` recorded at registration (tag ``finml.metric.<metric>``)."""
    try:
        value = float(tags[f"{METRIC_TAG}{metric}"])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) else None


def promote_tagged(
    config: ProjectConfig,
    name: str,
    version: int,
    *,
    event_id: str,
    kind: str,
    live_from: datetime | None = None,
) -> VersionInfo | None:
    """:func:`~finml.registry.stages.promote` ``version`` and tag the promotion (see the
    module docstring); ``live_from`` defaults to the end of the version's holdout window.
    Returns the replaced champion."""
    info = version_info(config, name, version)
    replaced = promote(config, name, version)
    live = live_from or window_end(info.tags, HOLDOUT_WINDOW)
    tags = {
        PROMOTED_AT: datetime.now(UTC).isoformat(),
        PROMOTION_EVENT: event_id,
        PROMOTION_KIND: kind,
        ARCHIVED_TAG: "false",
    }
    if live is not None:
        tags[LIVE_FROM] = live.isoformat()
    if info.tags.get(CHECK_TAG) != ROLLED_BACK:  # a rolled-back version is never re-checked
        tags[CHECK_TAG] = PENDING
    tag_version(config, name, version, tags)
    return replaced


def archive(config: ProjectConfig, name: str, version: int, reason: str) -> None:
    """Tag a rejected challenger ``finml.archived=true`` with the reason."""
    tag_version(config, name, version, {ARCHIVED_TAG: "true", ARCHIVED_REASON: reason[:4000]})
    log.info("challenger_archived", model=name, version=version, reason=reason)


def promote_manual(
    config: ProjectConfig,
    tables: DeltaTables,
    version: int,
    reason: str,
    *,
    name: str | None = None,
    live_from: datetime | None = None,
) -> Decision:
    """Make ``version`` the champion through the registry API, bypassing gate and A/B, and
    audit it in ``champion_challenger_audit`` with decision ``MANUAL_PROMOTE``. The
    promotion is tagged like any other, so the automatic rollback check watches it.

    ``name`` defaults to the anomaly model; ``live_from`` to the end of the version's
    holdout window (its first live windows start there).

    Raises:
        ModelNotFound: no such version.
    """
    name = name or model_name(config, ANOMALY_MODEL)
    info = version_info(config, name, version)
    champion = by_alias(config, name, CHAMPION)
    challenger_metric = registered_metric(info.tags)
    champion_metric = registered_metric(champion.tags) if champion is not None else None
    decision = Decision(
        event_id=str(uuid.uuid4()),
        decided_at=datetime.now(UTC),
        model_name=name,
        challenger_version=version,
        champion_version=champion.version if champion is not None else None,
        metric="pr_auc",
        challenger_metric=math.nan if challenger_metric is None else challenger_metric,
        champion_metric=champion_metric,
        improvement=(
            None
            if challenger_metric is None or champion_metric is None
            else challenger_metric - champion_metric
        ),
        ci_low=None,
        ci_high=None,
        min_improvement=0.0,
        holdout_rows=0,
        decision=GateDecision.MANUAL_PROMOTE,
        reasons=(f"manual promotion: {reason}",),
    )
    row = decision.audit_row() | {"challenger_metric": challenger_metric, "validation": "{}"}
    append_rows(tables, CHAMPION_CHALLENGER_AUDIT, [row], GATE_SCHEMA)
    promote_tagged(
        config, name, version, event_id=decision.event_id, kind="manual", live_from=live_from
    )
    log.info("manual_promotion", model=name, version=version, reason=reason)
    return decision


__all__ = [
    "archive",
    "promote_manual",
    "promote_tagged",
    "registered_metric",
    "version_info",
    "window_end",
]
