"""Retraining trigger: conditions per monitoring window, a policy with memory, an audit row
for every decision.

Each window the caller passes an :class:`Observation` (drift severity, a model metric and
its baseline, a data-quality score, how many new labelled samples arrived). Registered
conditions (:func:`condition`) say whether the window violates; the policy then decides:

1. no signal (drift, performance, data quality: each condition counts on its own) violated
   in ``violations_needed`` of its last ``window_count`` windows -> skip (unless the
   schedule condition is due);
2. fewer than ``min_new_samples`` samples since the last retrain -> skip;
3. inside ``cooldown_hours`` of the last retrain -> skip;
4. ``max_per_day`` retrains already started this UTC day -> skip;
5. otherwise trigger and run the action.

The clock is injected (``now``) so tests control time. History is restored from
``retraining_audit`` so the policy remembers across processes.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from finml.log import get_logger
from finml.monitoring.schemas import append_records
from finml.monitoring.settings import TriggerPolicy
from finml.vocabulary import DriftSeverity, RetrainDecision

if TYPE_CHECKING:
    from finml.monitoring.actions import Action
    from finml.runtime.delta import DeltaTables

log = get_logger("monitoring.trigger")

AUDIT_TABLE = "retraining_audit"
_CONDITIONS: dict[str, Callable[[Observation, TriggerPolicy], str | None]] = {}


@dataclass(frozen=True)
class Observation:
    """What one monitoring window looked like (None = not measured this window)."""

    drift_severity: DriftSeverity = DriftSeverity.NONE  # the worst column's
    drift_share: float | None = None  # share of columns at the policy's severity or worse
    metric: float | None = None  # e.g. PR-AUC of the window
    baseline_metric: float | None = None  # the same metric at training time
    quality_score: float | None = None  # share of rows passing expectations
    new_samples: int = 0
    positives: int | None = None  # labelled anomalies in the window (None: not counted)
    window_end: datetime | None = None


@dataclass(frozen=True)
class Decision:
    decision: RetrainDecision
    reason: str
    violations: list[str]
    violating_windows: int
    new_samples: int
    action_status: str = "not_run"
    action_detail: str = ""
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    decision_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def triggered(self) -> bool:
        return self.decision == RetrainDecision.TRIGGER


def condition(name: str) -> Callable[[Callable], Callable]:
    """Register a window condition: ``(observation, policy) -> reason or None``."""

    def decorate(fn: Callable) -> Callable:
        _CONDITIONS[name] = fn
        return fn

    return decorate


@condition("drift")
def _drift(obs: Observation, policy: TriggerPolicy) -> str | None:
    if DriftSeverity(obs.drift_severity).rank < policy.min_drift_severity.rank:
        return None
    if obs.drift_share is None:  # one overall severity (no per-column share measured)
        return f"drift severity {obs.drift_severity} >= {policy.min_drift_severity}"
    if obs.drift_share >= policy.min_drift_share:
        return (
            f"drift in {obs.drift_share:.0%} of columns at {policy.min_drift_severity} or worse"
            f" (>= {policy.min_drift_share:.0%}); worst {obs.drift_severity}"
        )
    return None


@condition("performance")
def _performance(obs: Observation, policy: TriggerPolicy) -> str | None:
    if obs.metric is None or obs.baseline_metric is None:
        return None
    if obs.positives is not None and obs.positives < policy.min_window_positives:
        return None  # a PR-AUC over a handful of anomalies is noise, not evidence
    drop = obs.baseline_metric - obs.metric
    if drop > policy.max_metric_drop:
        return f"metric dropped {drop:.4f} > {policy.max_metric_drop} (now {obs.metric:.4f})"
    return None


@condition("data_quality")
def _quality(obs: Observation, policy: TriggerPolicy) -> str | None:
    if obs.quality_score is not None and obs.quality_score < policy.min_quality_score:
        return f"quality score {obs.quality_score:.4f} < {policy.min_quality_score}"
    return None


class RetrainingTrigger:
    """Decides, per window, whether to retrain; runs ``action`` and audits every decision.

    Args:
        policy: thresholds and limits.
        action: what a trigger runs (None: decide and audit only).
        tables: where ``retraining_audit`` rows go (None: keep them in ``decisions``).
        now: the clock (UTC-aware datetimes).
    """

    def __init__(
        self,
        policy: TriggerPolicy | None = None,
        action: Action | None = None,
        tables: DeltaTables | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy or TriggerPolicy()
        self.action = action
        self.tables = tables
        self.now = now
        self.history: dict[str, deque[bool]] = {
            name: deque(maxlen=self.policy.window_count) for name in _CONDITIONS
        }
        self.triggered_at: list[datetime] = []
        self.samples_since_retrain = 0
        self.decisions: list[Decision] = []
        self.last_reasons: dict[str, str] = {}
        self.last_window_end: datetime | None = None  # of the latest observed window
        self._restored = 0
        if tables is not None:
            self._restore(tables)

    def evaluate(self, observation: Observation) -> Decision:
        """Record ``observation``, decide, run the action on a trigger, audit the decision."""
        now = self.now()
        found = {name: fn(observation, self.policy) for name, fn in _CONDITIONS.items()}
        for name, reason in found.items():
            self.history[name].append(reason is not None)
            if reason:
                self.last_reasons[name] = reason
        if observation.window_end is not None:
            self.last_window_end = observation.window_end
        violations = [f"{name}: {reason}" for name, reason in found.items() if reason]
        self.samples_since_retrain += observation.new_samples
        signal, count = self._worst_signal()
        reason = self._blocked(now, signal, count)
        decision = Decision(
            RetrainDecision.SKIP if reason else RetrainDecision.TRIGGER,
            reason or self._fired_reason(signal, count),
            violations,
            count,
            self.samples_since_retrain,
            decided_at=now,
        )
        if decision.triggered:
            decision = self._run(decision)
        self._audit(decision, observation)
        return decision

    def _worst_signal(self) -> tuple[str | None, int]:
        """The signal with the most violating windows among its last M, and that count."""
        counts = {name: sum(history) for name, history in self.history.items()}
        signal = max(counts, key=counts.__getitem__, default=None)
        return (signal, counts[signal]) if signal and counts[signal] else (None, 0)

    def _fired_reason(self, signal: str | None, count: int) -> str:
        if signal is None or count < self.policy.violations_needed:
            return "schedule due"
        latest = self.last_reasons.get(signal, "")
        return (
            f"{signal}: {count} of the last {len(self.history[signal])} windows violated "
            f"(need {self.policy.violations_needed} of {self.policy.window_count}); {latest}"
        ).rstrip("; ")

    def start_without_champion(self, ready: str | None, observation: Observation) -> Decision:
        """Decide on a first model: trigger with reason ``ready`` (None: not enough data
        yet, skip) unless cooldown or the daily cap block it; audited like any decision."""
        now = self.now()
        waiting = "no champion yet; not enough labelled data for a first model"
        reason = waiting if ready is None else self._limits(now)
        decision = Decision(
            RetrainDecision.SKIP if reason else RetrainDecision.TRIGGER,
            reason or ready or "",
            [],
            0,
            observation.new_samples,
            decided_at=now,
        )
        if decision.triggered:
            decision = self._run(decision)
        self._audit(decision, observation)
        return decision

    def _limits(self, now: datetime) -> str | None:
        """Cooldown and daily cap: why a retrain cannot start now (None: it can)."""
        p = self.policy
        if self.triggered_at and now - self.triggered_at[-1] < timedelta(hours=p.cooldown_hours):
            since = (now - self.triggered_at[-1]).total_seconds() / 3600
            return f"cooldown: last retrain {since:.2f} h ago < {p.cooldown_hours} h"
        today = sum(1 for t in self.triggered_at if t.date() == now.date())
        if today >= p.max_per_day:
            return f"daily limit: {today} retrains on {now.date()} >= max_per_day {p.max_per_day}"
        return None

    def _blocked(self, now: datetime, signal: str | None, violating: int) -> str | None:
        p = self.policy
        schedule_due = p.schedule_hours is not None and (
            not self.triggered_at
            or now - self.triggered_at[-1] >= timedelta(hours=p.schedule_hours)
        )
        if violating < p.violations_needed and not schedule_due:
            seen = max((len(h) for h in self.history.values()), default=0)
            worst = f" ({signal})" if signal else ""
            return (
                f"{violating} of the last {seen} windows violated{worst}; "
                f"need {p.violations_needed} of {p.window_count} of one signal"
            )
        if self.samples_since_retrain < p.min_new_samples:
            return f"{self.samples_since_retrain} new samples < min_new_samples {p.min_new_samples}"
        return self._limits(now)

    def _run(self, decision: Decision) -> Decision:
        self.triggered_at.append(decision.decided_at)
        self.samples_since_retrain = 0
        for history in self.history.values():  # a new model starts a fresh N-of-M count
            history.clear()
        if self.action is None:
            return decision
        result = self.action.run(decision.reason)
        log.info("retrain_triggered", reason=decision.reason, status=result.status)
        return replace(decision, action_status=result.status, action_detail=result.detail)

    def _audit(self, decision: Decision, observation: Observation) -> None:
        self.decisions.append(decision)
        if self.tables is None:
            return
        obs = {
            k: (
                v.isoformat()
                if isinstance(v, datetime)
                else str(v)
                if isinstance(v, StrEnum)
                else v
            )
            for k, v in asdict(observation).items()
        }
        record = {
            "decision_id": decision.decision_id,
            "sequence": len(self.decisions) + self._restored,
            "decided_at": decision.decided_at,
            "decision": str(decision.decision),
            "reason": decision.reason,
            "conditions": json.dumps(
                {
                    "observation": obs,
                    "violations": decision.violations,
                    "violated": bool(decision.violations),
                    "signals": [v.split(":", 1)[0] for v in decision.violations],
                }
            ),
            "violating_windows": decision.violating_windows,
            "window_count": self.policy.window_count,
            "new_samples": decision.new_samples,
            "action": getattr(self.action, "kind", None),
            "action_status": decision.action_status,
            "action_detail": decision.action_detail,
        }
        append_records(self.tables, AUDIT_TABLE, [record])

    def _restore(self, tables: DeltaTables) -> None:
        """Rebuild history, trigger times and the sample count from earlier audit rows."""
        table = tables.table(AUDIT_TABLE)
        if not table.exists():
            return
        rows = sorted(table.to_arrow().to_pylist(), key=lambda r: (r["sequence"], r["decided_at"]))
        self._restored = len(rows)
        for row in rows:
            conditions = json.loads(row["conditions"] or "{}")
            signals = set(conditions.get("signals", []))
            if row["decision"] == RetrainDecision.TRIGGER:
                self.triggered_at.append(row["decided_at"])
                for history in self.history.values():
                    history.clear()
                self.samples_since_retrain = 0
            else:
                for name, history in self.history.items():
                    history.append(name in signals)
                self.samples_since_retrain = int(row["new_samples"] or 0)
            window_end = conditions.get("observation", {}).get("window_end")
            if window_end:
                self.last_window_end = datetime.fromisoformat(window_end)
