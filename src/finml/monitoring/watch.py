"""Live anomaly watch: extreme moves and improbable regime transitions raise alerts.

* Extreme move (``EXTREME_MOVE``): a log return whose z-score against the previous
  ``lookback`` returns of the same symbol reaches ``zscore`` (HIGH; CRITICAL at twice that).
* Regime change (``REGIME_CHANGE``): a regime change whose probability under the fitted
  chain's transition matrix is below ``min_transition_probability`` (HIGH; CRITICAL below a
  tenth); without a matrix every change is reported (MEDIUM).

The transition matrix is a plain numpy array (rows: from, columns: to), so the watch does
not depend on how the chain was fitted. ``extreme_moves`` and ``regime_change`` only
detect (they return :class:`Alert` objects); ``observe_*`` detect and send. Alerts of a
timestamped observation carry the UTC day in their ``dedup_key``
(``EXTREME_MOVE:<symbol>:<YYYY-MM-DD>``), so deduplication is per symbol and window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from finml.errors import DataError
from finml.monitoring.alerts import Alert
from finml.monitoring.settings import WatchSettings
from finml.vocabulary import AlertSeverity, AlertType

if TYPE_CHECKING:
    from finml.monitoring.alerts import AlertManager

MIN_HISTORY = 20


def return_zscores(history: np.ndarray, returns: np.ndarray, lookback: int) -> np.ndarray:
    """z-score of each of ``returns`` against the ``lookback`` returns before it.

    ``history`` are earlier returns (oldest first). NaN where fewer than 20 came before or
    their standard deviation is zero.
    """
    series = np.concatenate((history, returns)).astype(np.float64)
    cumsum = np.concatenate(([0.0], np.cumsum(series)))
    cumsq = np.concatenate(([0.0], np.cumsum(series**2)))
    end = history.size + np.arange(returns.size)  # running sums: O(1) per return
    start = np.maximum(0, end - lookback)
    n = (end - start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cumsum[end] - cumsum[start]) / n
        var = ((cumsq[end] - cumsq[start]) / n - mean**2) * n / (n - 1)
        z = (series[end] - mean) / np.sqrt(var)
    return np.where((n >= MIN_HISTORY) & (var > 0), z, np.nan)


def validate_transition(matrix: np.ndarray, states: Sequence[str]) -> np.ndarray:
    """``matrix`` as a float array, checked square, non-negative, rows summing to 1.

    Raises:
        DataError: the matrix does not fit ``states`` or is not a stochastic matrix.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape != (len(states), len(states)):
        raise DataError(
            f"transition matrix: expected shape {(len(states), len(states))} for states "
            f"{list(states)}, got {m.shape}"
        )
    if (m < 0).any() or not np.allclose(m.sum(axis=1), 1.0, atol=1e-6):
        raise DataError(
            f"transition matrix: expected non-negative rows summing to 1, got row sums "
            f"{m.sum(axis=1).round(6).tolist()}"
        )
    return m


@dataclass
class LiveAnomalyWatch:
    """Stateful per-symbol watch; each ``observe_*`` call returns the alerts it sent.

    ``transition`` None: no regime model to judge a transition by, so every change of
    regime is reported (MEDIUM).
    """

    alerts: AlertManager
    transition: np.ndarray | None
    states: Sequence[str] = ("Normal", "Stress", "Crisis")
    settings: WatchSettings = field(default_factory=lambda: WatchSettings())
    _returns: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _last_price: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _regime: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.transition is not None:
            self.transition = validate_transition(self.transition, self.states)

    def observe_prices(
        self, symbol: str, prices: Sequence[float], times: Sequence[datetime] | None = None
    ) -> list[dict[str, Any]]:
        """Feed new trade prices of ``symbol``; alert on extreme log returns."""
        rows: list[dict[str, Any]] = []
        for alert in self.extreme_moves(symbol, prices, times):
            rows += self.alerts.send(alert)
        return rows

    def observe_regime(
        self, symbol: str, regime: str, at: datetime | date | None = None
    ) -> list[dict[str, Any]]:
        """Feed the current regime of ``symbol``; alert on an improbable transition."""
        alert = self.regime_change(symbol, regime, at)
        return self.alerts.send(alert) if alert is not None else []

    def new_session(self, symbol: str) -> None:
        """Forget the last price of ``symbol`` (its return history stays): the first price
        of the next call starts a session, so the overnight gap is not a return."""
        self._last_price.pop(symbol, None)

    def extreme_moves(
        self, symbol: str, prices: Sequence[float], times: Sequence[datetime] | None = None
    ) -> list[Alert]:
        """Feed new trade prices of ``symbol``; the alerts of its extreme log returns (one
        per return at or beyond ``zscore``), not sent.

        Raises:
            DataError: a price is not positive and finite.
        """
        p = np.asarray(prices, dtype=np.float64)
        if (p <= 0).any() or not np.isfinite(p).all():
            raise DataError(f"prices of {symbol}: expected positive finite values, got {p[:5]}")
        previous = self._last_price.get(symbol)
        chain = np.concatenate(([previous], p)) if previous is not None else p
        returns = np.diff(np.log(chain))
        if p.size:
            self._last_price[symbol] = float(p[-1])
        past = self._returns.setdefault(symbol, deque(maxlen=self.settings.lookback))
        z = return_zscores(np.asarray(past), returns, self.settings.lookback)
        past.extend(returns.tolist())
        hits = np.flatnonzero(np.abs(np.nan_to_num(z)) >= self.settings.zscore)
        alerts: list[Alert] = []
        for i in hits:
            offset = int(i) + (0 if previous is not None else 1)
            at = times[offset] if times is not None else None
            move = float(returns[i])
            alerts.append(
                move_alert(symbol, float(z[i]), move, float(p[offset]), at, self.settings)
            )
        return alerts

    def regime_change(
        self, symbol: str, regime: str, at: datetime | date | None = None
    ) -> Alert | None:
        """Feed the current regime of ``symbol``; the alert of its transition (not sent),
        or None when it did not change or the transition is probable enough.

        Raises:
            DataError: ``regime`` is not one of ``states``.
        """
        if regime not in self.states:
            raise DataError(
                f"regime of {symbol}: expected one of {list(self.states)}, got {regime!r}"
            )
        previous = self._regime.get(symbol)
        self._regime[symbol] = regime
        if previous is None or previous == regime:
            return None
        details: dict[str, Any] = {"symbol": symbol, "from": previous, "to": regime, "at": at}
        key = _key(AlertType.REGIME_CHANGE, symbol, at)
        created = _instant(at)
        if self.transition is None:
            return Alert(
                AlertType.REGIME_CHANGE,
                AlertSeverity.MEDIUM,
                f"regime change in {symbol}",
                f"{previous} -> {regime} (no transition matrix to judge it by)",
                source="live_watch",
                details=details,
                dedup_key=key,
                created_at=created,
            )
        prob = float(self.transition[self.states.index(previous), self.states.index(regime)])
        limit = self.settings.min_transition_probability
        if prob >= limit:
            return None
        return Alert(
            AlertType.REGIME_CHANGE,
            AlertSeverity.CRITICAL if prob < limit / 10 else AlertSeverity.HIGH,
            f"improbable regime transition in {symbol}",
            f"{previous} -> {regime} has probability {prob:.4f} < {limit}",
            source="live_watch",
            details={**details, "probability": prob},
            dedup_key=key,
            created_at=created,
        )


def move_alert(
    symbol: str,
    zscore: float,
    log_return: float,
    price: float,
    at: datetime | None,
    settings: WatchSettings,
) -> Alert:
    """The ``EXTREME_MOVE`` alert of one return of ``symbol`` (CRITICAL at twice the
    ``zscore`` setting, else HIGH), as :meth:`LiveAnomalyWatch.extreme_moves` raises it."""
    extreme = abs(zscore) >= 2 * settings.zscore
    return Alert(
        AlertType.EXTREME_MOVE,
        AlertSeverity.CRITICAL if extreme else AlertSeverity.HIGH,
        f"extreme move in {symbol}",
        f"log return {log_return:+.5f} is {zscore:+.1f} standard deviations",
        source="live_watch",
        details={
            "symbol": symbol,
            "zscore": zscore,
            "log_return": log_return,
            "price": price,
            "ts": at,
        },
        dedup_key=_key(AlertType.EXTREME_MOVE, symbol, at),
        created_at=at,
    )


def window_day(at: datetime | date) -> date:
    """The UTC day (the monitoring window) of ``at``; a date is its own window."""
    if isinstance(at, datetime):
        return (at.astimezone(UTC) if at.tzinfo else at).date()
    return at


def _key(kind: AlertType, symbol: str, at: datetime | date | None) -> str:
    """Dedup key per symbol and window: ``<TYPE>:<symbol>[:<UTC day>]``."""
    return f"{kind}:{symbol}" + (f":{window_day(at).isoformat()}" if at is not None else "")


def _instant(at: datetime | date | None) -> datetime | None:
    """A date observation as an alert time: midnight UTC of that day."""
    if at is None or isinstance(at, datetime):
        return at
    return datetime(at.year, at.month, at.day, tzinfo=UTC)
