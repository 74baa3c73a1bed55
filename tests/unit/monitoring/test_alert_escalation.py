"""Escalation of a repeated alert and acknowledgement, on an injected clock, into a real
``alerts`` Delta table (delta-rs); an ``alerts`` table of the older schema keeps working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from finml.errors import AlertNotFound
from finml.monitoring.alerts import Alert, AlertManager, acknowledge, alert_rows
from finml.monitoring.channel_settings import Escalation
from finml.monitoring.escalation import KeyHistory, raised
from finml.monitoring.schemas import ALERTS, arrow_table
from finml.monitoring.settings import AlertSettings
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = {"after": 3, "within_minutes": 120, "severity": "CRITICAL"}


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def minutes(self, minutes: float) -> Clock:
        self.at = T0 + timedelta(minutes=minutes)
        return self


@pytest.fixture
def tables(config) -> DeltaTables:
    return DeltaTables.from_config(config, None)


def _settings(**extra: object) -> AlertSettings:
    return AlertSettings.model_validate({"dedup_minutes": 30, "escalation": POLICY, **extra})


def _fire(manager: AlertManager, clock: Clock, minutes: float) -> tuple[str, str, bool]:
    clock.minutes(minutes)
    alert = Alert(AlertType.PERFORMANCE, AlertSeverity.MEDIUM, "pr_auc fell", dedup_key="perf:m")
    [row] = manager.send(alert)
    return row["status"], row["severity"], row["escalated"]


def test_a_key_that_keeps_firing_escalates_once_per_window(tables) -> None:
    clock = Clock()
    manager = AlertManager(_settings(), tables, now=clock)
    fired = [_fire(manager, clock, m) for m in (0, 10, 20, 25, 100, 140, 141, 150)]
    assert fired == [
        ("recorded", "MEDIUM", False),
        ("deduplicated", "MEDIUM", False),
        ("recorded", "CRITICAL", True),  # third firing within 120 min: past the dedup window
        ("deduplicated", "MEDIUM", False),
        ("recorded", "MEDIUM", False),  # 100 > 20 + 30: a plain resend, no re-escalation yet
        # 140: 120 min after the escalation, and 25, 100, 140 fired within (20, 140]
        ("recorded", "CRITICAL", True),
        ("deduplicated", "MEDIUM", False),
        ("deduplicated", "MEDIUM", False),
    ]
    stored = tables.table("alerts").to_arrow().to_pylist()
    assert [r["escalated"] for r in stored] == [f[2] for f in fired]


def test_another_process_continues_the_count_from_the_table(tables) -> None:
    clock = Clock()
    first = AlertManager(_settings(), tables, now=clock)
    assert [_fire(first, clock, m)[2] for m in (0, 10)] == [False, False]
    second = AlertManager(_settings(), tables, now=clock)  # e.g. the next job run
    assert _fire(second, clock, 20) == ("recorded", "CRITICAL", True)
    assert _fire(AlertManager(_settings(), tables, now=clock), clock, 30)[2] is False


def test_acknowledging_stops_the_escalation(tables) -> None:
    clock = Clock()
    manager = AlertManager(_settings(), tables, now=clock)
    _fire(manager, clock, 0)
    _fire(manager, clock, 10)
    first = alert_rows(tables)[-1]["alert_id"]
    done = acknowledge(tables, first, "alice", "looking", now=clock.minutes(15))
    assert done.new and (done.by, done.at, done.note) == ("alice", clock.at, "looking")
    # acknowledged in another "process" (this manager did not write it): still honoured
    fired = [_fire(manager, clock, m) for m in (20, 60, 100, 130, 136)]
    assert [f[2] for f in fired] == [False, False, False, False, True]
    # up to 130 the ack (at 15) holds; at 136 the firings after it, 20..136, count again


def test_acknowledge_is_idempotent_and_keeps_history(tables) -> None:
    manager = AlertManager(AlertSettings(), tables, now=Clock())
    [row] = manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, "drifted", "psi 0.4"))
    done = acknowledge(tables, row["alert_id"], "bob", None, now=Clock().minutes(5))
    version = tables.table("alerts").version()
    again = acknowledge(tables, row["alert_id"], "carol", "late", now=Clock().minutes(9))
    assert not again.new and (again.by, again.at) == ("bob", done.at)
    assert tables.table("alerts").version() == version  # nothing written
    rows = sorted(
        tables.table("alerts").to_arrow().to_pylist(), key=lambda r: r["status"] != "recorded"
    )
    assert [(r["status"], r["acknowledged_by"]) for r in rows] == [
        ("recorded", None),
        ("acknowledged", "bob"),
    ]
    assert rows[0]["title"] == "drifted" and rows[0]["severity"] == "HIGH"
    assert alert_rows(tables, unacked=True) == []
    with pytest.raises(AlertNotFound, match="alert 'f00': expected the id of an alert"):
        acknowledge(tables, "f00", "bob")


def test_an_alerts_table_of_the_older_schema_keeps_working(tables) -> None:
    old_schema = pa.schema([f for f in ALERTS if f.name in _OLD_COLUMNS])
    old = {"alert_id": "old1", "created_at": T0, "alert_type": "DRIFT", "severity": "LOW"}
    old |= {"title": "t", "dedup_key": "k", "status": "recorded", "attempts": 0}
    tables.table("alerts").append(arrow_table([old], old_schema))
    assert "escalated" not in tables.table("alerts").to_arrow().schema.names
    clock = Clock()
    manager = AlertManager(_settings(), tables, now=clock)  # reads the old rows
    _fire(manager, clock, 1)
    assert acknowledge(tables, "old1", "dave", now=clock.minutes(2)).new
    rows = tables.table("alerts").to_arrow().to_pylist()
    found = {(r["alert_id"] == "old1", r["status"], r["escalated"]) for r in rows}
    assert len(rows) == 3 and found == {
        (True, "recorded", None),  # the old row: the new columns are null
        (True, "acknowledged", None),
        (False, "recorded", False),
    }


_OLD_COLUMNS = {
    "alert_id", "created_at", "alert_type", "severity", "title", "message", "source",
    "dedup_key", "details", "status", "destination", "attempts", "last_error", "delivered_at",
}  # fmt: skip


def test_escalation_policy_is_pure() -> None:
    policy = Escalation(after=2, within_minutes=60, severity=AlertSeverity.HIGH)
    history = KeyHistory()
    history.fire(T0, policy)
    assert not history.due(policy, T0)
    history.fire(T0 + timedelta(minutes=60), policy)  # the first is exactly 60 min old
    assert not history.due(policy, T0 + timedelta(minutes=60))
    history.fire(T0 + timedelta(minutes=61), policy)
    assert history.due(policy, T0 + timedelta(minutes=61))
    assert raised(AlertSeverity.LOW, AlertSeverity.HIGH) is AlertSeverity.HIGH
    assert raised(AlertSeverity.CRITICAL, AlertSeverity.HIGH) is AlertSeverity.CRITICAL
    assert raised(AlertSeverity.MEDIUM, None) is AlertSeverity.MEDIUM
