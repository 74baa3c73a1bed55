"""Risk management state: per-account portfolios with simulated fills, the drawdown and
loss-streak monitors, portfolio heat, and a correlation tracker of recent returns.

Positions are opened and closed at the price of the trade that decided them (a simulated
fill, no slippage or fees); equity moves only on realised PnL.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass
class Position:
    """An open position: ``side`` +1 long, -1 short; ``quantity`` in shares."""

    symbol: str
    side: int
    quantity: float
    entry_price: float
    entry_ts: datetime

    @property
    def notional(self) -> float:
        return self.quantity * self.entry_price

    def move(self, price: float) -> float:
        """The favourable move since entry, as a fraction of the entry price."""
        return self.side * (price / self.entry_price - 1.0)


@dataclass
class Portfolio:
    """One account: equity, its peak, open positions and the trade record."""

    equity: float
    peak: float = 0.0
    positions: dict[str, Position] = field(default_factory=dict)
    consecutive_losses: int = 0
    wins: int = 0
    losses: int = 0
    gross_profit: float = 0.0
    gross_loss: float = 0.0
    max_drawdown: float = 0.0
    last_loss_at: datetime | None = None

    def __post_init__(self) -> None:
        self.peak = max(self.peak, self.equity)

    @property
    def drawdown(self) -> float:
        """Current drawdown from the equity peak, as a fraction of the peak."""
        return 1.0 - self.equity / self.peak if self.peak > 0 else 0.0

    def open_risk(self, stop_loss: float) -> float:
        """What the open positions lose if every one hits its stop."""
        return sum(p.notional for p in self.positions.values()) * stop_loss

    def open(self, position: Position) -> None:
        self.positions[position.symbol] = position

    def close(self, symbol: str, price: float, ts: datetime) -> float:
        """Close ``symbol``'s position at ``price`` at time ``ts``; returns the realised PnL."""
        position = self.positions.pop(symbol)
        pnl = position.side * position.quantity * (price - position.entry_price)
        self.equity += pnl
        self.peak = max(self.peak, self.equity)
        self.max_drawdown = max(self.max_drawdown, self.drawdown)
        if pnl > 0:
            self.wins, self.gross_profit, self.consecutive_losses = (
                self.wins + 1,
                self.gross_profit + pnl,
                0,
            )
        else:
            self.losses, self.gross_loss = self.losses + 1, self.gross_loss - pnl
            self.consecutive_losses += 1
            self.last_loss_at = ts
        return pnl


class CorrelationTracker:
    """The last ``window`` log returns of each symbol, and their correlation."""

    def __init__(self, window: int):
        self.window = window
        self._returns: dict[str, deque[float]] = {}

    def observe(self, symbol: str, log_return: float | None) -> None:
        if log_return is not None and math.isfinite(log_return):
            self._returns.setdefault(symbol, deque(maxlen=self.window)).append(log_return)

    def correlation(self, a: str, b: str) -> float:
        """Pearson correlation of the two symbols' most recent returns (aligned by recency,
        as many as both have); 0 with fewer than 10 or a constant series."""
        x, y = self._returns.get(a, ()), self._returns.get(b, ())
        n = min(len(x), len(y))
        if a == b:
            return 1.0
        if n < 10:
            return 0.0
        xs, ys = np.array(list(x)[-n:]), np.array(list(y)[-n:])
        if xs.std() == 0 or ys.std() == 0:
            return 0.0
        return float(np.corrcoef(xs, ys)[0, 1])

    def max_abs(self, symbol: str, others: list[str]) -> float:
        """The largest absolute correlation of ``symbol`` with any of ``others``."""
        return max((abs(self.correlation(symbol, o)) for o in others if o != symbol), default=0.0)
