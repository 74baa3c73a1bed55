"""The closed sets of finml.vocabulary: the stored strings, the severity order, the places
where members become plain strings, and the settings that take a member."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import pyarrow as pa
import pytest

import finml.monitoring.schemas
from finml.errors import ConfigError
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.drift.report import ColumnDrift, DriftReport, Window
from finml.monitoring.settings import TriggerPolicy
from finml.monitoring.trigger import Observation, RetrainingTrigger
from finml.serving.abtest import Confusion, compare
from finml.settings_base import validate_section
from finml.vocabulary import (
    AbDecision,
    AlertSeverity,
    AlertStatus,
    AlertType,
    DriftSeverity,
    GateDecision,
    RetrainDecision,
    RunState,
)

ROOT = Path(__file__).resolve().parents[2]

# The strings already stored in Delta tables, MLflow tags and dashboard snapshots: an enum
# may gain a member, but a stored value must never change its spelling.
STORED = {
    AlertStatus: ["delivered", "failed", "deduplicated", "recorded", "acknowledged"],
    AlertType: [
        "DRIFT",
        "PERFORMANCE",
        "DATA_QUALITY",
        "ERROR",
        "WARNING",
        "EXTREME_MOVE",
        "REGIME_CHANGE",
        "LATENCY",
    ],
    AlertSeverity: ["LOW", "MEDIUM", "HIGH", "CRITICAL"],
    DriftSeverity: ["NONE", "MEDIUM", "HIGH"],
    GateDecision: ["PROMOTE", "REJECT", "MANUAL_PROMOTE", "ROLLBACK"],
    AbDecision: ["promote_challenger", "keep_champion", "inconclusive"],
    RetrainDecision: ["trigger", "skip"],
    RunState: ["SUCCESS", "FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "EXCLUDED"],
}


@pytest.mark.parametrize("enum", list(STORED), ids=lambda e: e.__name__)
def test_values_are_the_stored_strings(enum: type[StrEnum]) -> None:
    assert [m.value for m in enum] == STORED[enum]
    assert all(m == m.value and str(m) == m.value for m in enum)


def test_job_runs_state_matches_the_ddl_comment() -> None:
    ddl = (ROOT / "sql" / "10_audit_tables.sql").read_text()
    comment = re.search(r"state STRING COMMENT '([^']*)'", ddl)
    assert comment is not None
    assert set(re.split(r", | or ", comment.group(1))) == set(RunState)


@pytest.mark.parametrize(
    ("column", "enum"), [("status", AlertStatus), ("decision", RetrainDecision)]
)
def test_monitoring_schema_comments_list_every_member(column: str, enum: type[StrEnum]) -> None:
    source = Path(finml.monitoring.schemas.__file__).read_text()
    comment = re.search(rf'\("{column}", pa\.string\(\)\),\s*#\s*(.*)', source)
    assert comment is not None
    assert set(comment.group(1).split(" | ")) == set(enum)


def test_drift_severity_rank_orders_none_medium_high() -> None:
    ranked = sorted(DriftSeverity, key=lambda s: s.rank, reverse=True)
    assert ranked == [DriftSeverity.HIGH, DriftSeverity.MEDIUM, DriftSeverity.NONE]
    assert [s.rank for s in DriftSeverity] == [0, 1, 2]


def test_worst_drift_severity() -> None:
    assert DriftSeverity.worst(["MEDIUM", "NONE", "HIGH", "MEDIUM"]) is DriftSeverity.HIGH
    assert DriftSeverity.worst(["NONE", "MEDIUM"]) is DriftSeverity.MEDIUM
    assert DriftSeverity.worst([]) is DriftSeverity.NONE
    with pytest.raises(ValueError, match="LOW"):
        DriftSeverity.worst(["LOW"])


def test_stored_drift_severity() -> None:
    assert DriftSeverity.of(None) is DriftSeverity.NONE
    assert DriftSeverity.of("HIGH") is DriftSeverity.HIGH
    with pytest.raises(ValueError, match="high"):
        DriftSeverity.of("high")


def test_gate_decisions_that_move_the_champion() -> None:
    moved = {d for d in GateDecision if d.moves_champion}
    assert moved == {GateDecision.PROMOTE, GateDecision.MANUAL_PROMOTE}


def test_failed_run_states() -> None:
    failed = {s for s in RunState if s.failed}
    assert failed == {RunState.FAILED, RunState.TIMEDOUT, RunState.UPSTREAM_FAILED}


def test_policy_takes_a_severity_from_config_strings() -> None:
    policy = validate_section(TriggerPolicy, {"min_drift_severity": "MEDIUM"}, "monitoring")
    assert policy.min_drift_severity is DriftSeverity.MEDIUM
    assert TriggerPolicy().min_drift_severity is DriftSeverity.HIGH


@pytest.mark.parametrize("bad", ["NONE", "LOW", "high", 2])
def test_policy_rejects_a_non_threshold_severity(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        validate_section(TriggerPolicy, {"min_drift_severity": bad}, "monitoring")
    assert str(info.value) == (
        "config section 'monitoring': field 'monitoring.min_drift_severity': "
        f"expected 'MEDIUM' or 'HIGH', got {bad!r}"
    )


def test_policy_severity_ranks_against_observations() -> None:
    fired = RetrainingTrigger(
        TriggerPolicy(
            min_drift_severity="MEDIUM",
            violations_needed=1,
            window_count=1,
            min_new_samples=0,
        ),
        now=lambda: datetime(2024, 1, 2, tzinfo=UTC),
    )
    decision = fired.evaluate(Observation(drift_severity=DriftSeverity.HIGH))
    assert decision.decision is RetrainDecision.TRIGGER and decision.triggered


def _column(name: str, severity: DriftSeverity) -> ColumnDrift:
    return ColumnDrift(name, "numeric", 10, 10, 0.1, 0.1, 0.1, 0.1, severity=severity)


def test_drift_rows_carry_plain_strings() -> None:
    report = DriftReport(
        Window(), [_column("a", DriftSeverity.MEDIUM), _column("b", DriftSeverity.HIGH)]
    )
    assert report.severity is DriftSeverity.HIGH
    assert [c.column_name for c in report.drifted] == ["b", "a"]
    rows = report.to_records("run")
    assert [type(r["severity"]) for r in rows] == [str, str]
    table = report.to_arrow("run")
    assert table.column("severity").to_pylist() == ["MEDIUM", "HIGH"]


def test_alert_rows_and_payload_carry_plain_strings() -> None:
    manager = AlertManager(now=lambda: datetime(2024, 1, 2, tzinfo=UTC))
    (row,) = manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, "drifted"))
    assert (row["alert_type"], row["severity"], row["status"]) == ("DRIFT", "HIGH", "recorded")
    assert {type(row[k]) for k in ("alert_type", "severity", "status")} == {str}
    payload = Alert(AlertType.DRIFT, AlertSeverity.HIGH, "x").payload(datetime.now(UTC))
    assert json.loads(json.dumps(payload))["severity"] == "HIGH"
    assert pa.array([row["status"]]).type == pa.string()


def test_ab_row_carries_a_plain_string() -> None:
    champion = Confusion("champion", "1", 210, 50, 10, 50, 100)
    challenger = Confusion("challenger", "2", 210, 90, 10, 10, 100)
    comparison = compare(champion, challenger, "recall", 0.05, 10)
    assert comparison.decision is AbDecision.PROMOTE_CHALLENGER
    assert type(comparison.as_row()["decision"]) is str
