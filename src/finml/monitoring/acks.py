"""Acknowledging an alert and listing alerts, over the ``alerts`` table.

An acknowledgement is one more row of ``alerts`` for the alert (status ``acknowledged``,
``acknowledged_by``, ``acknowledged_at``, ``ack_note``), inserted by an insert-only MERGE
on ``(alert_id, status)``: the delivery rows stay as they were (history is append-only)
and acknowledging again inserts nothing, even from two processes at once. Callable from
the CLI (``finml alerts ack``) and any API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from finml.errors import AlertNotFound
from finml.monitoring.schemas import ALERTS, arrow_table
from finml.runtime.delta import MergeSpec
from finml.vocabulary import AlertSeverity, AlertStatus

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

ALERTS_TABLE = "alerts"
_SEVERITY_ORDER = [str(s) for s in AlertSeverity]
_ACK_KEY = MergeSpec(keys=("alert_id", "status"), update_columns=())  # insert-only


@dataclass(frozen=True)
class Acknowledgement:
    """Who acknowledged an alert, when and why; ``new`` is False when it already was."""

    alert_id: str
    by: str
    at: datetime
    note: str | None
    new: bool


def _rows_of(tables: DeltaTables, alert_id: str) -> list[dict[str, Any]]:
    table = tables.table(ALERTS_TABLE)
    if not table.exists():
        return []
    arrow = table.to_arrow()
    return arrow.filter(pc.equal(arrow["alert_id"], alert_id)).to_pylist()


def acknowledge(
    tables: DeltaTables,
    alert_id: str,
    by: str,
    note: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Acknowledgement:
    """Record that ``by`` took alert ``alert_id`` (idempotent: a second call returns the
    first acknowledgement and writes nothing). Its dedup key stops escalating.

    Raises:
        AlertNotFound: no row of ``alerts`` has ``alert_id``.
    """
    rows = _rows_of(tables, alert_id)
    if not rows:
        raise AlertNotFound(
            f"alert {alert_id!r}: expected the id of an alert in table {ALERTS_TABLE!r}, "
            "found none (see finml alerts list)"
        )
    done = next((r for r in rows if r["status"] == AlertStatus.ACKNOWLEDGED), None)
    if done is not None:
        return Acknowledgement(
            alert_id, done["acknowledged_by"], done["acknowledged_at"], done["ack_note"], False
        )
    first = min(rows, key=lambda r: r["created_at"])
    at = now()
    row = {
        **first,
        "severity": max((r["severity"] for r in rows), key=_SEVERITY_ORDER.index),  # escalated
        "status": AlertStatus.ACKNOWLEDGED.value,
        "destination": None,
        "attempts": 0,
        "last_error": None,
        "delivered_at": None,
        "escalated": None,
        "acknowledged_by": by,
        "acknowledged_at": at,
        "ack_note": note,
    }
    result = tables.table(ALERTS_TABLE).merge(
        arrow_table([row], ALERTS), _ACK_KEY, schema_evolution=True
    )
    if not result.metrics.get("rows_inserted", 1):  # another process acknowledged it first
        return acknowledge(tables, alert_id, by, note, now)
    return Acknowledgement(alert_id, by, at, note, True)


def alert_rows(
    tables: DeltaTables,
    *,
    status: AlertStatus | None = None,
    unacked: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``alerts``, newest first: only ``status``; with ``unacked`` only the
    delivery rows of alerts nobody acknowledged."""
    table = tables.table(ALERTS_TABLE)
    rows = table.to_arrow().to_pylist() if table.exists() else []
    if unacked:
        acked = {r["alert_id"] for r in rows if r["status"] == AlertStatus.ACKNOWLEDGED}
        rows = [r for r in rows if r["alert_id"] not in acked]
    rows = [r for r in rows if status is None or r["status"] == status]
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    return rows[:limit] if limit is not None else rows
