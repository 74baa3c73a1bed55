"""The latency SLA of ``POST /decide``: each stage's p99 over a window against its budget.

:class:`SlaWatch` collects every decision's stage latencies; once a window of
``window_seconds`` has passed (judged on the next decision, or by :meth:`SlaWatch.roll`),
it computes each stage's p99 over the window and reports a :class:`Breach` for every stage
whose p99 exceeds its budget. A window with fewer than ``min_samples`` decisions is not
judged (a p99 of three requests is noise). The serving process turns each breach into a
``LATENCY`` alert, deduplicated per stage and window.

>>> watch = SlaWatch(LatencyBudgets(features=50))  # doctest: +SKIP
>>> watch.observe({"features": 0.06, ...}); watch.roll()  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from finml.serving.decisions.policy import LatencyBudgets

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables


@dataclass(frozen=True)
class Breach:
    """A stage whose p99 over a window exceeded its budget."""

    stage: str
    p99_ms: float
    budget_ms: float
    decisions: int
    window_start: datetime
    window_end: datetime

    def __str__(self) -> str:
        return (
            f"/decide stage {self.stage}: p99 {self.p99_ms:.2f} ms > budget "
            f"{self.budget_ms:.0f} ms over {self.decisions} decisions "
            f"({self.window_start:%H:%M:%S}-{self.window_end:%H:%M:%S} UTC)"
        )


@dataclass
class SlaWatch:
    """Per-window stage latencies and their p99 against the budgets (thread-safe)."""

    budgets: LatencyBudgets
    clock: Callable[[], float] = time.time  # seconds since the epoch
    _samples: dict[str, list[float]] = field(default_factory=dict)
    _start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, seconds: dict[str, float]) -> list[Breach]:
        """Add one decision's stage latencies (seconds); returns the breaches of the window
        this decision closed, if it closed one."""
        breaches = self.roll()
        with self._lock:
            if self._start is None:
                self._start = self.clock()
            for stage in self.budgets.stages():
                if stage in seconds:
                    self._samples.setdefault(stage, []).append(seconds[stage])
        return breaches

    def roll(self) -> list[Breach]:
        """Judge and reset the current window if it has lasted ``window_seconds``."""
        now = self.clock()
        with self._lock:
            if self._start is None or now - self._start < self.budgets.window_seconds:
                return []
            samples, start = self._samples, self._start
            self._samples, self._start = {}, None
        return self._judge(samples, start, now)

    def _judge(self, samples: dict[str, list[float]], start: float, end: float) -> list[Breach]:
        out = []
        for stage, budget in self.budgets.stages().items():
            values = samples.get(stage, [])
            if len(values) < self.budgets.min_samples:
                continue
            p99 = float(np.percentile(values, 99)) * 1000
            if p99 > budget:
                out.append(Breach(stage, round(p99, 4), budget, len(values), _utc(start),
                                  _utc(end)))  # fmt: skip
        return out


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def sla_alert(config: ProjectConfig, tables: DeltaTables) -> Callable[[Breach], None]:
    """A ``/decide`` latency SLA breach as a ``LATENCY`` alert (webhooks and ``alerts``),
    deduplicated per stage and window."""
    from finml.monitoring.alerts import Alert, AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.vocabulary import AlertSeverity, AlertType

    manager = AlertManager(MonitoringSettings.from_config(config).alerts, tables)

    def send(breach: Breach) -> None:
        manager.send(
            Alert(
                AlertType.LATENCY,
                AlertSeverity.HIGH,
                f"/decide {breach.stage} p99 over budget",
                str(breach),
                source="serving.decide",
                details={k: str(v) for k, v in breach.__dict__.items()},
                dedup_key=f"LATENCY:{breach.stage}:{breach.window_start.isoformat()}",
            )
        )

    return send
