"""Closed sets of words shared across the layers: one :class:`~enum.StrEnum` per set.

A member *is* its string (``DriftSeverity.HIGH == "HIGH"``), so the values stored in Delta
tables, MLflow tags, alert payloads and the dashboard are the same strings they always were.
Where a value leaves Python for Spark, Arrow, MLflow or JSON, pass ``member.value`` (a plain
``str``): Spark's type inference does not accept ``Enum`` subclasses. Reading a stored
value back is ``DriftSeverity(text)`` (a non-member raises ``ValueError``).

* :class:`AlertType`, :class:`AlertSeverity`, :class:`AlertStatus` -- the ``alerts`` table
  (:mod:`finml.monitoring.alerts`), raised by jobs, monitoring and the rollback check.
* :class:`DriftSeverity` -- ``drift_monitoring.severity``, the retraining policy's
  ``min_drift_severity``, the dashboard's drift views; ordered by :attr:`DriftSeverity.rank`.
* :class:`GateDecision` -- ``champion_challenger_audit`` / ``regime_model_audit`` /
  ``rollback_audit`` decisions and the ``finml.gate_decision`` registry tag, written by the
  anomaly-model gate (:mod:`finml.models.gate`) and the regime gate
  (:mod:`finml.regimes.promotion`).
* :class:`AbDecision` -- an A/B comparison's decision (``ab_test_results``), live
  (:mod:`finml.serving.abtest`) or replayed (:mod:`finml.models.replay_ab`).
* :class:`RetrainDecision` -- ``retraining_audit.decision`` (:mod:`finml.monitoring.trigger`).
* :class:`RunState` -- ``job_runs.state``, the final state of a task attempt
  (:mod:`finml.bundle.runs`), as Databricks Jobs names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class AlertStatus(StrEnum):
    """The outcome an ``alerts`` row records for one alert and destination."""

    DELIVERED = "delivered"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"  # within the dedup window of a sent alert: not sent again
    RECORDED = "recorded"  # no channel configured: stored only
    ACKNOWLEDGED = "acknowledged"  # a person took the alert (one row per alert, who and when)


class AlertType(StrEnum):
    """What an alert is about (``alerts.alert_type``)."""

    DRIFT = "DRIFT"
    PERFORMANCE = "PERFORMANCE"
    DATA_QUALITY = "DATA_QUALITY"
    ERROR = "ERROR"
    WARNING = "WARNING"
    EXTREME_MOVE = "EXTREME_MOVE"  # a return far outside its symbol's recent distribution
    REGIME_CHANGE = "REGIME_CHANGE"  # the market regime of a symbol changed
    LATENCY = "LATENCY"  # a serving stage's p99 over a window exceeded its budget


class AlertSeverity(StrEnum):
    """How urgent an alert is (``alerts.severity``), least to most."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class DriftSeverity(StrEnum):
    """How far a column (or window: its worst column) drifted, least to most."""

    NONE = "NONE"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        """0 for NONE, 1 for MEDIUM, 2 for HIGH: compare severities by rank."""
        return _DRIFT_RANK[self]

    @classmethod
    def of(cls, stored: str | None) -> DriftSeverity:
        """The severity of a stored value; None (a column not graded) is NONE.

        Raises:
            ValueError: ``stored`` is not a member's value.
        """
        return cls.NONE if stored is None else cls(stored)

    @classmethod
    def worst(cls, levels: Iterable[str]) -> DriftSeverity:
        """The highest of ``levels`` (severities or their values); NONE when there are none.

        Raises:
            ValueError: a level is not a member's value.
        """
        return max((cls(level) for level in levels), key=lambda level: level.rank, default=cls.NONE)


_DRIFT_RANK = {level: index for index, level in enumerate(DriftSeverity)}


class GateDecision(StrEnum):
    """A champion/challenger decision as the audit tables and registry tags record it."""

    PROMOTE = "PROMOTE"
    REJECT = "REJECT"
    MANUAL_PROMOTE = "MANUAL_PROMOTE"  # `finml promote --force`: audited, not gated
    ROLLBACK = "ROLLBACK"  # @champion moved back to @previous-champion

    @property
    def moves_champion(self) -> bool:
        """True for the decisions that point ``@champion`` at the challenger."""
        return self in (GateDecision.PROMOTE, GateDecision.MANUAL_PROMOTE)


class AbDecision(StrEnum):
    """The decision of an A/B comparison between champion and challenger."""

    PROMOTE_CHALLENGER = "promote_challenger"
    KEEP_CHAMPION = "keep_champion"
    INCONCLUSIVE = "inconclusive"


class RetrainDecision(StrEnum):
    """What the retraining trigger decided for one window."""

    TRIGGER = "trigger"
    SKIP = "skip"


class RunState(StrEnum):
    """The final state of a task attempt. SUCCESS, FAILED and TIMEDOUT come from a process;
    UPSTREAM_FAILED and EXCLUDED are decided by the runner without starting one."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    EXCLUDED = "EXCLUDED"  # skipped by a condition branch: neither success nor failure

    @property
    def failed(self) -> bool:
        """True for FAILED, TIMEDOUT and UPSTREAM_FAILED."""
        return self in (RunState.FAILED, RunState.TIMEDOUT, RunState.UPSTREAM_FAILED)
