"""Alerts: typed, graded, deduplicated, delivered to webhooks, every one a row in ``alerts``.

>>> manager = AlertManager(AlertSettings(webhooks=[url]), tables)  # doctest: +SKIP
>>> manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, "drifted", "psi 0.4"))  # doctest: +SKIP

An alert whose ``dedup_key`` was delivered (or recorded) within ``dedup_minutes`` is stored
with status ``deduplicated`` and not sent again. A delivery that fails after every retry is
stored with status ``failed``, its attempts and last error: it is never lost, and
:meth:`AlertManager.retry_failed` can send it later.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from finml.log import get_logger
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import AlertSettings
from finml.monitoring.webhook import deliver
from finml.vocabulary import AlertSeverity, AlertStatus, AlertType

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

log = get_logger("monitoring.alerts")

ALERTS_TABLE = "alerts"
SECRET_ENV = "FINML_ALERT_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret


_SENT = (AlertStatus.DELIVERED, AlertStatus.RECORDED)


@dataclass(frozen=True)
class Alert:
    """One alert. ``dedup_key`` defaults to ``type:source:title``."""

    alert_type: AlertType
    severity: AlertSeverity
    title: str
    message: str = ""
    source: str = "finml"
    details: dict[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.dedup_key or f"{self.alert_type}:{self.source}:{self.title}"

    def payload(self, created_at: datetime) -> dict[str, Any]:
        """The JSON document sent to webhooks."""
        return {
            "alert_id": self.alert_id,
            "alert_type": str(self.alert_type),
            "severity": str(self.severity),
            "title": self.title,
            "message": self.message,
            "source": self.source,
            "dedup_key": self.key,
            "details": self.details,
            "created_at": created_at.isoformat(),
        }


class AlertManager:
    """Sends alerts to the configured webhooks and records each outcome in ``alerts``.

    Args:
        settings: webhooks, dedup window, retry policy.
        tables: where ``alerts`` rows go (None: keep them in ``records`` only).
        now: the clock; ``sleep``: the backoff wait (both injectable for tests).
        secret: HMAC key; default ``$FINML_ALERT_WEBHOOK_SECRET`` (unsigned if unset).
    """

    def __init__(
        self,
        settings: AlertSettings | None = None,
        tables: DeltaTables | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        secret: str | None = None,
    ) -> None:
        self.settings = settings or AlertSettings()
        self.tables = tables
        self.now = now
        self.sleep = sleep
        self.secret = secret if secret is not None else os.environ.get(SECRET_ENV) or None
        self.records: list[dict[str, Any]] = []
        self._last_sent: dict[str, datetime] = self._restore_dedup()

    def send(self, alert: Alert) -> list[dict[str, Any]]:
        """Deduplicate, deliver to every webhook, append one row per destination.

        Returns the rows written (status delivered / failed / deduplicated / recorded).
        """
        now = alert.created_at or self.now()
        base = _row(alert, now)
        last = self._last_sent.get(alert.key)
        if last is not None and now - last < timedelta(minutes=self.settings.dedup_minutes):
            rows = [{**base, "status": AlertStatus.DEDUPLICATED.value, "attempts": 0}]
            return self._store(rows)
        body = json.dumps(alert.payload(now), sort_keys=True, default=str).encode()
        rows = []
        for url in self.settings.webhooks:
            result = deliver(url, body, alert.alert_id, self.settings, self.secret, self.sleep)
            rows.append(
                {
                    **base,
                    "status": (
                        AlertStatus.DELIVERED if result.delivered else AlertStatus.FAILED
                    ).value,
                    "destination": url,
                    "attempts": result.attempts,
                    "last_error": result.last_error,
                    "delivered_at": self.now() if result.delivered else None,
                }
            )
            log.info(
                "alert_delivery", url=url, delivered=result.delivered, attempts=result.attempts
            )
        if not rows:
            rows = [{**base, "status": AlertStatus.RECORDED.value, "attempts": 0}]
        if any(r["status"] in _SENT for r in rows):
            self._last_sent[alert.key] = now
        return self._store(rows)

    def retry_failed(self, destinations: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Re-deliver every ``failed`` alert not since delivered; appends the new outcomes.

        ``destinations`` redirects the retries (e.g. a replacement webhook); by default each
        alert goes back to the destination that failed. An alert counts as done for a
        destination once a ``delivered`` row exists for that pair.
        """
        if self.tables is None or not self.tables.table(ALERTS_TABLE).exists():
            return []
        rows = self.tables.table(ALERTS_TABLE).to_arrow().to_pylist()
        delivered = (r for r in rows if r["status"] == AlertStatus.DELIVERED)
        done = {(r["alert_id"], r["destination"]) for r in delivered}
        out = []
        for row in rows:
            if row["status"] != AlertStatus.FAILED:
                continue
            for url in destinations or [row["destination"]]:
                if (row["alert_id"], url) in done:
                    continue
                body = json.dumps(_payload_of(row), sort_keys=True, default=str).encode()
                result = deliver(url, body, row["alert_id"], self.settings, self.secret, self.sleep)
                out.append(
                    {
                        **row,
                        "status": (
                            AlertStatus.DELIVERED if result.delivered else AlertStatus.FAILED
                        ).value,
                        "destination": url,
                        "attempts": result.attempts,
                        "last_error": result.last_error,
                        "delivered_at": self.now() if result.delivered else None,
                    }
                )
                done.add((row["alert_id"], url))
        return self._store(out)

    def _store(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.records.extend(rows)
        if self.tables is not None:
            append_records(self.tables, ALERTS_TABLE, rows)
        return rows

    def _restore_dedup(self) -> dict[str, datetime]:
        if self.tables is None or not self.tables.table(ALERTS_TABLE).exists():
            return {}
        last: dict[str, datetime] = {}
        for row in self.tables.table(ALERTS_TABLE).to_arrow().to_pylist():
            if row["status"] in _SENT:
                key, at = row["dedup_key"], row["created_at"]
                if key not in last or at > last[key]:
                    last[key] = at
        return last


def _row(alert: Alert, created_at: datetime) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "created_at": created_at,
        "alert_type": str(alert.alert_type),
        "severity": str(alert.severity),
        "title": alert.title,
        "message": alert.message,
        "source": alert.source,
        "dedup_key": alert.key,
        "details": json.dumps(alert.details, sort_keys=True, default=str),
        "destination": None,
        "last_error": None,
        "delivered_at": None,
    }


def _payload_of(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": row["alert_id"],
        "alert_type": row["alert_type"],
        "severity": row["severity"],
        "title": row["title"],
        "message": row["message"],
        "source": row["source"],
        "dedup_key": row["dedup_key"],
        "details": json.loads(row["details"] or "{}"),
        "created_at": row["created_at"].isoformat(),
    }
