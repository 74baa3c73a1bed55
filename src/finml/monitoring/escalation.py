"""When a repeated alert escalates: a pure policy over the firings of one dedup key.

A key escalates when it fired ``after`` times within the last ``within_minutes`` (every
firing counts, deduplicated ones too: an alert that keeps firing is the point), it did not
escalate within that time, and it is not acknowledged: an acknowledgement holds for
``within_minutes``, and the firings up to it never count again. Time comes from the caller
(the manager's injectable clock), so a test replays hours of firings with no sleep.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from finml.monitoring.channel_settings import Escalation
from finml.vocabulary import AlertSeverity, AlertStatus

_FIRED = (
    AlertStatus.DELIVERED,
    AlertStatus.FAILED,
    AlertStatus.DEDUPLICATED,
    AlertStatus.RECORDED,
)


def raised(severity: AlertSeverity, floor: AlertSeverity | None) -> AlertSeverity:
    """``severity``, raised to ``floor`` when that is higher (never lowered)."""
    order = list(AlertSeverity)
    if floor is None or order.index(floor) <= order.index(severity):
        return severity
    return floor


@dataclass
class KeyHistory:
    """What escalation knows of one dedup key."""

    firings: list[datetime] = field(default_factory=list)
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None

    def fire(self, at: datetime, policy: Escalation) -> None:
        """Record a firing at ``at``, forgetting those too old to count."""
        since = at - timedelta(minutes=policy.within_minutes)
        self.firings = [t for t in self.firings if t > since] + [at]

    def acknowledge(self, at: datetime | None) -> None:
        if at is not None and (self.acknowledged_at is None or at > self.acknowledged_at):
            self.acknowledged_at = at

    def due(self, policy: Escalation, now: datetime) -> bool:
        """True when a firing at ``now`` (already recorded) escalates."""
        window = timedelta(minutes=policy.within_minutes)
        for quiet in (self.escalated_at, self.acknowledged_at):
            if quiet is not None and now - quiet < window:
                return False
        since = now - window
        if self.acknowledged_at is not None:
            since = max(since, self.acknowledged_at)
        return sum(1 for t in self.firings if since < t <= now) >= policy.after


def histories(rows: Iterable[dict[str, Any]], policy: Escalation) -> dict[str, KeyHistory]:
    """Each dedup key's history from ``alerts`` rows (one firing per alert id; columns an
    older table lacks count as null)."""
    found: dict[str, KeyHistory] = {}
    fired: dict[str, dict[str, datetime]] = {}
    for row in rows:
        key, at = row["dedup_key"], row["created_at"]
        history = found.setdefault(key, KeyHistory())
        if row["status"] == AlertStatus.ACKNOWLEDGED:
            history.acknowledge(row.get("acknowledged_at"))
            continue
        if row["status"] in _FIRED:
            fired.setdefault(key, {})[row["alert_id"]] = at
        if row.get("escalated") and (history.escalated_at is None or at > history.escalated_at):
            history.escalated_at = at
    for key, times in fired.items():
        latest = max(times.values())
        since = latest - timedelta(minutes=policy.within_minutes)
        found[key].firings = sorted(t for t in times.values() if t > since)
    return found
