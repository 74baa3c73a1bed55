"""The decision engine: exit evaluation, then confidence filter -> risk assessment ->
position sizing, per trade and account, on the risk manager's state (:mod:`.portfolio`).

For each scored trade (its anomaly probability, last log return and, when known, the regime
model's current and next-regime probabilities):

1. **Exit evaluation** first when the account holds the symbol: stop loss, take profit,
   maximum holding time, or a next-regime P(Crisis) at ``crisis_exit_probability`` close it
   (``EXIT_POSITION`` with the realised PnL); otherwise ``NO_ACTION`` (no pyramiding).
2. **Confidence filter**: a probability below ``min_confidence``, or no price move to fade,
   is ``NO_ACTION``.
3. **Risk assessment**: five factors in [0, 1] -- portfolio heat (open risk over its limit),
   correlation (largest |correlation| of recent returns with the open symbols), volatility
   regime (P(Crisis) + P(Stress)/2, averaging now and next), drawdown proximity (drawdown
   over ``max_drawdown``), consecutive losses (over ``max_consecutive_losses``) -- weighed
   into a score; above ``max_risk_score``, at the drawdown limit, or within
   ``loss_cooldown_seconds`` of the loss that hit the loss-streak limit, ``RISK_REJECTED``.
4. **Sizing**: fractional Kelly ``kelly_fraction * (p - (1 - p) / payoff_ratio)`` scaled by
   ``1 - risk score``, capped by ``max_position_fraction`` and by the heat left; no edge is
   ``NO_ACTION``, no room is ``RISK_REJECTED``; else ``TAKE_ACTION`` with the size, against
   the last move.

Orders fill at the signal's ``fill_price`` (the backtest passes the symbol's next trade: an
anomalous print itself is not a price anyone could trade at), else at its ``price``; exits
are judged on ``price``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from finml.serving.decisions.policy import DecisionPolicy
from finml.serving.decisions.portfolio import CorrelationTracker, Portfolio, Position

CRISIS, STRESS = "Crisis", "Stress"


class Action(StrEnum):
    NO_ACTION = "NO_ACTION"
    RISK_REJECTED = "RISK_REJECTED"
    EXIT_POSITION = "EXIT_POSITION"
    TAKE_ACTION = "TAKE_ACTION"


@dataclass(frozen=True)
class Signal:
    """What the engine decides on: one scored trade."""

    symbol: str
    ts: datetime
    price: float
    log_return: float | None
    probability: float  # the anomaly model's
    regime: dict[str, float] = field(default_factory=dict)  # P(regime) now
    next_regime: dict[str, float] = field(default_factory=dict)  # P(regime) next day
    account: str = "default"
    fill_price: float | None = None  # where an order fills (default: ``price``)

    @property
    def fill(self) -> float:
        return self.price if self.fill_price is None else self.fill_price


@dataclass(frozen=True)
class Decision:
    """The engine's answer, with everything that decided it."""

    action: Action
    reason: str
    account: str
    symbol: str
    side: int = 0
    quantity: float = 0.0
    notional: float = 0.0
    kelly: float | None = None
    risk_score: float | None = None
    factors: dict[str, float] = field(default_factory=dict)
    pnl: float | None = None
    equity: float = 0.0
    latency_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "action": str(self.action)}


class DecisionEngine:
    """Decisions per account on shared market state (thread-safe)."""

    def __init__(self, policy: DecisionPolicy):
        self.policy = policy
        self.correlations = CorrelationTracker(policy.correlation_window)
        self.accounts: dict[str, Portfolio] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """The engine's state without its lock (a streaming query checkpoints it)."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def portfolio(self, account: str) -> Portfolio:
        return self.accounts.setdefault(account, Portfolio(self.policy.initial_equity))

    def decide(self, signal: Signal) -> Decision:
        started = time.perf_counter()
        with self._lock:
            self.correlations.observe(signal.symbol, signal.log_return)
            decision = self._decide(signal, self.portfolio(signal.account))
        elapsed = (time.perf_counter() - started) * 1000
        return Decision(**{**decision.__dict__, "latency_ms": elapsed})

    def _decide(self, s: Signal, book: Portfolio) -> Decision:
        p = self.policy
        if s.symbol in book.positions:
            return self._exit(s, book)
        if s.probability < p.min_confidence:
            return self._answer(
                Action.NO_ACTION,
                f"probability {s.probability:.3f} < min_confidence {p.min_confidence}",
                s,
                book,
            )
        if not s.log_return or not math.isfinite(s.log_return):
            return self._answer(Action.NO_ACTION, "no price move to fade", s, book)
        factors = self.risk_factors(s, book)
        score = self.risk_score(factors)
        limit = self._hard_limit(book, s.ts)
        if limit or score > p.max_risk_score:
            reason = limit or f"risk score {score:.3f} > max_risk_score {p.max_risk_score}"
            return self._answer(
                Action.RISK_REJECTED, reason, s, book, risk_score=score, factors=factors
            )
        return self._size(s, book, score, factors)

    def risk_factors(self, s: Signal, book: Portfolio) -> dict[str, float]:
        p = self.policy
        heat = book.open_risk(p.stop_loss) / book.equity / p.max_heat
        regime = [_regime_risk(d) for d in (s.regime, s.next_regime) if d]
        return {
            "heat": _unit(heat),
            "correlation": _unit(self.correlations.max_abs(s.symbol, list(book.positions))),
            "regime": _unit(sum(regime) / len(regime)) if regime else 0.0,
            "drawdown": _unit(book.drawdown / p.max_drawdown),
            "losses": _unit(book.consecutive_losses / p.max_consecutive_losses),
        }

    def risk_score(self, factors: dict[str, float]) -> float:
        weights = self.policy.risk_weights.model_dump()
        return sum(weights[k] * factors[k] for k in weights) / sum(weights.values())

    def _hard_limit(self, book: Portfolio, now: datetime) -> str | None:
        """Why no position may open now: the drawdown limit (until equity recovers), or a
        loss streak at its limit (for ``loss_cooldown_seconds`` after the last loss; then
        the streak starts again from 0)."""
        p = self.policy
        if book.drawdown >= p.max_drawdown:
            return f"drawdown {book.drawdown:.3f} at max_drawdown {p.max_drawdown}"
        if book.consecutive_losses >= p.max_consecutive_losses and book.last_loss_at:
            waited = (now - book.last_loss_at).total_seconds()
            if waited < p.loss_cooldown_seconds:
                return (
                    f"{book.consecutive_losses} consecutive losses (max "
                    f"{p.max_consecutive_losses}); cooling down {waited:.0f} of "
                    f"{p.loss_cooldown_seconds:.0f} s"
                )
            book.consecutive_losses = 0
        return None

    def _size(self, s: Signal, book: Portfolio, score: float, factors: dict) -> Decision:
        p = self.policy
        kelly = s.probability - (1.0 - s.probability) / p.payoff_ratio
        if kelly <= 0:
            return self._answer(
                Action.NO_ACTION,
                f"no edge: Kelly fraction {kelly:.3f} <= 0",
                s,
                book,
                kelly=kelly,
                risk_score=score,
                factors=factors,
            )
        fraction = min(p.kelly_fraction * kelly * (1.0 - score), p.max_position_fraction)
        room = (p.max_heat * book.equity - book.open_risk(p.stop_loss)) / p.stop_loss
        notional = min(fraction * book.equity, room)
        if notional <= 0:
            return self._answer(
                Action.RISK_REJECTED,
                "no heat left for a new position",
                s,
                book,
                kelly=kelly,
                risk_score=score,
                factors=factors,
            )
        side = -1 if s.log_return and s.log_return > 0 else 1  # fade the last move
        quantity = notional / s.fill
        book.open(Position(s.symbol, side, quantity, s.fill, s.ts))
        reason = f"fade the move: Kelly {kelly:.3f} x {p.kelly_fraction} x (1 - risk {score:.3f})"
        return self._answer(
            Action.TAKE_ACTION,
            reason,
            s,
            book,
            side=side,
            quantity=quantity,
            notional=notional,
            kelly=kelly,
            risk_score=score,
            factors=factors,
        )

    def _exit(self, s: Signal, book: Portfolio) -> Decision:
        p = self.policy
        position = book.positions[s.symbol]
        move = position.move(s.price)
        held = (s.ts - position.entry_ts).total_seconds()
        crisis = s.next_regime.get(CRISIS, 0.0)
        reason = (
            f"stop loss: move {move:.4f} <= -{p.stop_loss}"
            if move <= -p.stop_loss
            else f"take profit: move {move:.4f} >= {p.take_profit}"
            if move >= p.take_profit
            else f"held {held:.0f} s >= {p.max_holding_seconds:.0f} s"
            if held >= p.max_holding_seconds
            else f"next-regime P(Crisis) {crisis:.2f} >= {p.crisis_exit_probability}"
            if crisis >= p.crisis_exit_probability
            else None
        )
        if reason is None:
            return self._answer(Action.NO_ACTION, "position open, no exit condition", s, book)
        side, quantity = position.side, position.quantity
        pnl = book.close(s.symbol, s.fill, s.ts)
        return self._answer(
            Action.EXIT_POSITION,
            reason,
            s,
            book,
            side=-side,
            quantity=quantity,
            notional=quantity * s.fill,
            pnl=pnl,
        )

    @staticmethod
    def _answer(action: Action, reason: str, s: Signal, book: Portfolio, **more: Any) -> Decision:
        return Decision(action, reason, s.account, s.symbol, equity=book.equity, **more)


def _regime_risk(probabilities: dict[str, float]) -> float:
    return probabilities.get(CRISIS, 0.0) + 0.5 * probabilities.get(STRESS, 0.0)


def _unit(value: float) -> float:
    return min(max(float(value), 0.0), 1.0)
