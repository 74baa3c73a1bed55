"""The decision engine, hand-computed: confidence filter, risk factors and score, hard limits,
fractional-Kelly sizing with caps, exits with realised PnL, per-account state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from finml.errors import ConfigError
from finml.serving.decisions import Action, DecisionEngine, DecisionPolicy, RiskWeights, Signal

T0 = datetime(2024, 3, 7, 15, tzinfo=UTC)


def signal(price: float = 100.0, ret: float | None = 0.002, p: float = 0.9, **more) -> Signal:
    return Signal("AAA", more.pop("ts", T0), price, ret, p, **more)


def test_low_confidence_and_no_move_are_no_action() -> None:
    engine = DecisionEngine(DecisionPolicy())
    low = engine.decide(signal(p=0.5))
    assert low.action == Action.NO_ACTION and "min_confidence 0.6" in low.reason
    flat = engine.decide(signal(ret=0.0))
    assert flat.action == Action.NO_ACTION and flat.reason == "no price move to fade"
    assert engine.portfolio("default").positions == {}


def test_a_confident_flag_is_faded_with_a_capped_fractional_kelly_size() -> None:
    engine = DecisionEngine(DecisionPolicy())
    up = engine.decide(signal(price=100.0, ret=0.003, p=0.9))
    kelly = 0.9 - 0.1 / 1.5  # 0.8333
    assert up.action == Action.TAKE_ACTION and up.side == -1  # fade the rise: short
    assert up.kelly == pytest.approx(kelly) and up.risk_score == 0.0
    # 0.25 x 0.833 = 0.208 of equity, capped at max_position_fraction 0.05 -> 50,000
    assert up.notional == pytest.approx(50_000) and up.quantity == pytest.approx(500)
    uncapped = DecisionEngine(DecisionPolicy(max_position_fraction=1.0, max_heat=1.0))
    down = uncapped.decide(signal(price=50.0, ret=-0.003, p=0.7))
    assert down.side == 1
    assert down.notional == pytest.approx(0.25 * (0.7 - 0.3 / 1.5) * 1_000_000)
    no_edge = DecisionEngine(DecisionPolicy(min_confidence=0.3)).decide(signal(p=0.35))
    assert no_edge.action == Action.NO_ACTION and no_edge.reason.startswith("no edge")


def test_heat_raises_the_risk_score_and_then_rejects() -> None:
    # heat limit: 1,000 of open risk (0.001 x equity); each position risks 50,000 x 0.01 = 500
    engine = DecisionEngine(DecisionPolicy(max_heat=0.001, max_risk_score=1.0))
    first = engine.decide(Signal("AAA", T0, 100.0, 0.002, 0.9))
    second = engine.decide(Signal("BBB", T0, 100.0, 0.002, 0.9))
    third = engine.decide(Signal("CCC", T0, 100.0, 0.002, 0.9))
    assert (first.action, second.action) == (Action.TAKE_ACTION, Action.TAKE_ACTION)
    assert second.factors["heat"] == pytest.approx(0.5) and second.risk_score == pytest.approx(
        0.25 * 0.5
    )
    # the second is sized with (1 - risk): min(0.25 x 0.833 x 0.875, 0.05) = 0.05 still
    assert second.notional == pytest.approx(50_000)
    assert third.action == Action.RISK_REJECTED and third.factors["heat"] == 1.0
    assert third.reason == "no heat left for a new position"


def test_the_regime_factor_and_the_score_limit() -> None:
    only_regime = RiskWeights(heat=0, correlation=0, regime=1, drawdown=0, losses=0)
    engine = DecisionEngine(DecisionPolicy(risk_weights=only_regime, max_risk_score=0.5))
    calm = engine.decide(signal(regime={"Normal": 1.0}, next_regime={"Normal": 0.9, "Stress": 0.1}))
    assert calm.action == Action.TAKE_ACTION and calm.risk_score == pytest.approx(0.025)
    engine.portfolio("default").positions.clear()
    # now Crisis 0.4 + Stress 0.2 / 2 = 0.5, next Crisis 0.6 + 0.4 / 2 = 0.8: mean 0.65
    stormy = engine.decide(
        signal(regime={"Crisis": 0.4, "Stress": 0.2}, next_regime={"Crisis": 0.6, "Stress": 0.4})
    )
    assert stormy.action == Action.RISK_REJECTED
    assert stormy.factors["regime"] == pytest.approx(0.65)
    assert "risk score 0.650 > max_risk_score 0.5" in stormy.reason


@pytest.mark.parametrize(
    ("price", "seconds", "next_crisis", "reason", "pnl"),
    [
        (101.5, 10, 0.0, "stop loss: move -0.0150 <= -0.01", -500 * 1.5),
        (98.0, 10, 0.0, "take profit: move 0.0200 >= 0.015", 500 * 2.0),
        (100.2, 301, 0.0, "held 301 s >= 300 s", -500 * 0.2),
        (99.9, 10, 0.85, "next-regime P(Crisis) 0.85 >= 0.8", 500 * 0.1),
    ],
)
def test_exits_realise_the_pnl_of_the_simulated_fill(price, seconds, next_crisis, reason, pnl):
    engine = DecisionEngine(DecisionPolicy())
    assert engine.decide(signal(price=100.0, ret=0.002)).action == Action.TAKE_ACTION  # short 500
    held = engine.decide(signal(price=100.1, ret=0.001, ts=T0 + timedelta(seconds=5)))
    assert held.action == Action.NO_ACTION and held.reason == "position open, no exit condition"
    out = engine.decide(
        signal(
            price=price,
            ret=0.001,
            ts=T0 + timedelta(seconds=seconds),
            next_regime={"Crisis": next_crisis},
        )
    )
    assert out.action == Action.EXIT_POSITION and out.reason == reason
    assert out.pnl == pytest.approx(pnl) and out.side == 1  # buy back the short
    book = engine.portfolio("default")
    assert book.equity == pytest.approx(1_000_000 + pnl) and not book.positions
    assert (book.wins, book.losses) == ((1, 0) if pnl > 0 else (0, 1))


def test_a_loss_streak_and_a_drawdown_stop_new_positions_per_account() -> None:
    engine = DecisionEngine(DecisionPolicy(max_consecutive_losses=2))
    for i in range(2):  # two stopped-out shorts
        start = T0 + timedelta(minutes=i)
        engine.decide(signal(price=100.0, ts=start))
        engine.decide(signal(price=102.0, ts=start + timedelta(seconds=1)))
    book = engine.portfolio("default")
    # 500 shares lose 1,000; then 0.05 x 999,000 / 100 = 499.5 shares lose 999
    assert book.consecutive_losses == 2 and book.max_drawdown == pytest.approx(1_999 / 1e6)
    blocked = engine.decide(signal(ts=T0 + timedelta(minutes=5)))
    assert blocked.action == Action.RISK_REJECTED
    assert blocked.reason == "2 consecutive losses (max 2); cooling down 239 of 3600 s"
    later = engine.decide(signal(ts=T0 + timedelta(minutes=1, seconds=3602)))
    assert later.action == Action.TAKE_ACTION and book.consecutive_losses == 0  # cooled down
    other = engine.decide(Signal("AAA", T0, 100.0, 0.002, 0.9, account="other"))
    assert other.action == Action.TAKE_ACTION  # accounts are independent
    deep = DecisionEngine(DecisionPolicy(max_drawdown=0.001))
    deep.decide(signal(price=100.0))
    deep.decide(signal(price=102.0, ts=T0 + timedelta(seconds=1)))  # loses 1,000 = 0.1 %
    assert deep.decide(signal(ts=T0 + timedelta(seconds=2))).reason.startswith("drawdown 0.001")


def test_correlated_open_positions_raise_the_correlation_factor() -> None:
    engine = DecisionEngine(DecisionPolicy(max_risk_score=1.0))
    g = np.random.default_rng(0)
    for r in g.normal(0, 0.001, 30):
        engine.correlations.observe("AAA", float(r))
        engine.correlations.observe("BBB", float(r) * 2 + 1e-6)
        engine.correlations.observe("CCC", float(g.normal(0, 0.001)))
    engine.decide(Signal("AAA", T0, 100.0, 0.002, 0.9))
    twin = engine.decide(Signal("BBB", T0, 100.0, 0.002, 0.9))
    assert twin.factors["correlation"] > 0.95  # 30 equal moves, then each its own signal
    stranger = engine.decide(Signal("CCC", T0, 100.0, 0.002, 0.9))
    assert stranger.factors["correlation"] < twin.factors["correlation"]


def test_a_bad_policy_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"decisions\.min_confidence"):
        DecisionPolicy.from_section({"min_confidence": 1.5})
    with pytest.raises(ConfigError, match="expected at least one positive weight"):
        DecisionPolicy.from_section(
            {"risk_weights": {"heat": 0, "correlation": 0, "regime": 0, "drawdown": 0, "losses": 0}}
        )
    with pytest.raises(ConfigError, match=r"decisions\.bogus"):
        DecisionPolicy.from_section({"bogus": 1})


def test_orders_fill_at_the_fill_price_and_exits_are_judged_on_the_price() -> None:
    engine = DecisionEngine(DecisionPolicy())
    entry = engine.decide(signal(price=110.0, ret=0.09, fill_price=100.0))  # a spike, then 100
    assert entry.action == Action.TAKE_ACTION and entry.quantity == pytest.approx(500)
    assert engine.portfolio("default").positions["AAA"].entry_price == 100.0
    out = engine.decide(
        signal(price=98.0, ret=-0.02, fill_price=98.5, ts=T0 + timedelta(seconds=1))
    )
    assert out.action == Action.EXIT_POSITION and out.reason.startswith("take profit")
    assert out.pnl == pytest.approx(500 * 1.5)  # judged at 98, filled at 98.5
