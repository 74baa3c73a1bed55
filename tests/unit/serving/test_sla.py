"""The /decide SLA check: each stage's p99 over a window against its budget, judged when
the window has passed, windows with too few decisions not judged."""

from __future__ import annotations

import pytest

from finml.errors import ConfigError
from finml.serving.decisions import DecisionPolicy
from finml.serving.decisions.policy import LatencyBudgets
from finml.serving.sla import SlaWatch

BUDGETS = LatencyBudgets(features=50, model=100, decision=50, total=200, window_seconds=60,
                         min_samples=10)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _spans(features_ms: float) -> dict[str, float]:
    return {"features": features_ms / 1000, "model": 0.002, "regime": 0.0, "decision": 0.0001,
            "total": features_ms / 1000 + 0.0021}  # fmt: skip


def test_a_stage_whose_p99_exceeds_its_budget_breaches_once_the_window_ends() -> None:
    clock = Clock()
    watch = SlaWatch(BUDGETS, clock)
    for i in range(100):  # 2 of 100 at 80 ms: the p99 is over the 50 ms budget
        assert watch.observe(_spans(80.0 if i in (10, 60) else 5.0)) == []
        clock.now += 0.5  # 50 s: the window is still open
    assert watch.roll() == []
    clock.now += 10.5
    (breach,) = watch.roll()
    assert breach.stage == "features" and breach.budget_ms == 50 and breach.decisions == 100
    assert breach.p99_ms == pytest.approx(80.0)  # the 99th of 100 sorted values
    assert "features: p99" in str(breach) and "> budget 50 ms" in str(breach)
    assert watch.roll() == []  # the window was reset


def test_a_window_within_budget_or_too_small_is_no_breach() -> None:
    clock = Clock()
    watch = SlaWatch(BUDGETS, clock)
    for i in range(100):  # one outlier in 100 is above the p99 (5 + 0.01 x 75 = 5.75 ms)
        watch.observe(_spans(500.0 if i == 50 else 5.0))
    clock.now += 61
    assert watch.roll() == []
    for _ in range(9):  # fewer than min_samples, all far over budget
        watch.observe(_spans(500.0))
    clock.now += 61
    assert watch.roll() == []


def test_the_next_decision_closes_a_passed_window() -> None:
    clock = Clock()
    watch = SlaWatch(BUDGETS, clock)
    for _ in range(20):
        watch.observe(_spans(300.0))
    clock.now += 60
    breaches = watch.observe(_spans(1.0))
    assert {b.stage for b in breaches} == {"features", "total"}
    p99 = {b.stage: b.p99_ms for b in breaches}
    assert p99 == pytest.approx({"features": 300.0, "total": 302.1})


def test_budgets_are_validated_in_the_decisions_section() -> None:
    policy = DecisionPolicy.from_section({"latency_budgets": {"model": 20}})
    assert policy.latency_budgets.stages()["model"] == 20
    with pytest.raises(ConfigError, match="latency_budgets"):
        DecisionPolicy.from_section({"latency_budgets": {"model": 0}})
