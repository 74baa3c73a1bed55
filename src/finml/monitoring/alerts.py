"""Alerts: typed, graded, deduplicated, escalated, delivered to channels, every one a row
in ``alerts``.

>>> manager = AlertManager(AlertSettings(webhooks=[url]), tables)  # doctest: +SKIP
>>> manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, "drifted", "psi 0.4"))  # doctest: +SKIP

An alert whose ``dedup_key`` was delivered (or recorded) within ``dedup_minutes`` is stored
with status ``deduplicated`` and not sent again. A delivery that fails after every retry is
stored with status ``failed``, its attempts and last error: it is never lost, and
:meth:`AlertManager.retry_failed` can send it later. With ``escalation`` configured, a key
that keeps firing is sent again past the dedup window, with a raised severity and to the
escalation channels, its rows marked ``escalated`` (:mod:`finml.monitoring.escalation`);
:func:`acknowledge` (from :mod:`finml.monitoring.acks`) stops that.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from finml.log import get_logger
from finml.monitoring.acks import ALERTS_TABLE, Acknowledgement, acknowledge, alert_rows
from finml.monitoring.channels import Destination, Sender, destination_named, destinations
from finml.monitoring.escalation import KeyHistory, histories, raised
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import AlertSettings
from finml.secrets import SecretStore, default_store
from finml.vocabulary import AlertSeverity, AlertStatus, AlertType

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

__all__ = [
    "ALERTS_TABLE",
    "SECRET_ENV",
    "Acknowledgement",
    "Alert",
    "AlertManager",
    "acknowledge",
    "alert_rows",
]

log = get_logger("monitoring.alerts")

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

    def payload(self, created_at: datetime, escalated: bool = False) -> dict[str, Any]:
        """The JSON document sent to webhooks (and rendered for Slack and email)."""
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
            "escalated": escalated,
        }


class AlertManager:
    """Sends alerts to the configured destinations and records each outcome in ``alerts``.

    Args:
        settings: webhooks, channels, dedup window, escalation, retry policy.
        tables: where ``alerts`` rows go (None: keep them in ``records`` only).
        now: the clock; ``sleep``: the backoff wait (both injectable for tests).
        secret: HMAC key; default ``FINML_ALERT_WEBHOOK_SECRET`` from ``secrets`` (unsigned
            if unset).
        environ: where channels read ``url_env`` / ``auth_env`` (default ``secrets``).
        secrets: the environment, then an encrypted secrets file (default: the environment
            and ``$FINML_SECRETS_FILE``; jobs pass ``config.secrets``).
    """

    def __init__(
        self,
        settings: AlertSettings | None = None,
        tables: DeltaTables | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        secret: str | None = None,
        environ: Mapping[str, str] | None = None,
        secrets: SecretStore | None = None,
    ) -> None:
        self.settings = settings or AlertSettings()
        self.tables = tables
        self.now = now
        self.sleep = sleep
        store = secrets if secrets is not None else default_store()
        self.secret = secret if secret is not None else store.value(SECRET_ENV)
        self.sender = Sender(
            self.settings, self.secret, sleep, store if environ is None else environ
        )
        self.records: list[dict[str, Any]] = []
        rows = self._table_rows()
        self._last_sent: dict[str, datetime] = _last_sent(rows)
        policy = self.settings.escalation
        self._history: dict[str, KeyHistory] = histories(rows, policy) if policy else {}

    def send(self, alert: Alert) -> list[dict[str, Any]]:
        """Deduplicate or escalate, deliver to every destination, append one row per
        destination.

        Returns the rows written (status delivered / failed / deduplicated / recorded).
        """
        now = alert.created_at or self.now()
        escalated = self._escalates(alert.key, now)
        last = self._last_sent.get(alert.key)
        window = timedelta(minutes=self.settings.dedup_minutes)
        if not escalated and last is not None and now - last < window:
            base = _row(alert, now, escalated=False)
            return self._store([{**base, "status": AlertStatus.DEDUPLICATED.value, "attempts": 0}])
        policy = self.settings.escalation
        if escalated and policy is not None:
            alert = replace(alert, severity=raised(alert.severity, policy.severity))
            log.warning("alert_escalated", dedup_key=alert.key, severity=str(alert.severity))
        base = _row(alert, now, escalated=escalated)
        payload = alert.payload(now, escalated)
        chosen = [d for d in destinations(self.settings) if escalated or not d.escalation_only]
        rows = [self._deliver(d, payload, base) for d in chosen]
        if not rows:
            rows = [{**base, "status": AlertStatus.RECORDED.value, "attempts": 0}]
        if any(r["status"] in _SENT for r in rows):
            self._last_sent[alert.key] = now
        return self._store(rows)

    def _escalates(self, key: str, now: datetime) -> bool:
        policy = self.settings.escalation
        if policy is None:
            return False
        history = self._history.setdefault(key, KeyHistory())
        history.fire(now, policy)
        if not history.due(policy, now):
            return False
        # an acknowledgement may have come from another process since this one started
        history.acknowledge(_latest_ack(self._table_rows(), key))
        if not history.due(policy, now):
            return False
        history.escalated_at = now
        return True

    def _deliver(
        self, destination: Destination, payload: dict[str, Any], base: dict[str, Any]
    ) -> dict[str, Any]:
        result = self.sender.send(destination, payload)
        log.info(
            "alert_delivery",
            destination=destination.name,
            delivered=result.delivered,
            attempts=result.attempts,
        )
        return {
            **base,
            "status": (AlertStatus.DELIVERED if result.delivered else AlertStatus.FAILED).value,
            "destination": destination.name,
            "attempts": result.attempts,
            "last_error": result.last_error,
            "delivered_at": self.now() if result.delivered else None,
        }

    def retry_failed(self, destinations: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Re-deliver every ``failed`` alert not since delivered; appends the new outcomes.

        ``destinations`` (webhook URLs or channel names) redirects the retries (e.g. a
        replacement webhook); by default each alert goes back to the destination that
        failed. An alert counts as done for a destination once a ``delivered`` row exists
        for that pair.
        """
        rows = self._table_rows()
        delivered = (r for r in rows if r["status"] == AlertStatus.DELIVERED)
        done = {(r["alert_id"], r["destination"]) for r in delivered}
        out = []
        for row in rows:
            if row["status"] != AlertStatus.FAILED:
                continue
            for name in destinations or [row["destination"]]:
                if (row["alert_id"], name) in done:
                    continue
                destination = destination_named(self.settings, name)
                out.append(self._deliver(destination, _payload_of(row), row))
                done.add((row["alert_id"], name))
        return self._store(out)

    def _store(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.records.extend(rows)
        if self.tables is not None:
            append_records(self.tables, ALERTS_TABLE, rows)
        return rows

    def _table_rows(self) -> list[dict[str, Any]]:
        if self.tables is None or not self.tables.table(ALERTS_TABLE).exists():
            return []
        return self.tables.table(ALERTS_TABLE).to_arrow().to_pylist()


def _last_sent(rows: list[dict[str, Any]]) -> dict[str, datetime]:
    last: dict[str, datetime] = {}
    for row in rows:
        if row["status"] in _SENT:
            key, at = row["dedup_key"], row["created_at"]
            if key not in last or at > last[key]:
                last[key] = at
    return last


def _latest_ack(rows: list[dict[str, Any]], key: str) -> datetime | None:
    acks = [
        r.get("acknowledged_at")
        for r in rows
        if r["status"] == AlertStatus.ACKNOWLEDGED and r["dedup_key"] == key
    ]
    return max((a for a in acks if a is not None), default=None)


def _row(alert: Alert, created_at: datetime, *, escalated: bool) -> dict[str, Any]:
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
        "escalated": escalated,
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
        "escalated": bool(row.get("escalated")),
    }
