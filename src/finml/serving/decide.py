"""``POST /decide``: a raw trade in, a decision out, every stage timed.

raw trade -> online features (:mod:`finml.features.online`, the batch definitions, state
warm-started from ``silver_trades``) -> the champion's anomaly probability -> the regime
view (from ``regime_states``: the latest day before the trade's New-York day, its filtered
probabilities and its next-day forecast) -> the decision engine
(:mod:`finml.serving.decisions`) -> a row of the Delta table ``decisions``, buffered and
flushed every ``flush_rows`` rows or ``flush_seconds`` seconds and on shutdown.

Each stage's latency goes into the Prometheus histogram ``finml_decide_stage_seconds``
(``features``, ``model``, ``regime``, ``decision``, ``total``) and into the answer.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from bisect import bisect_left
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from finml.features.online import WARM_COLUMNS, LateTrade, OnlineFeatures, RawTrade
from finml.features.settings import feature_settings
from finml.log import get_logger
from finml.serving.decision_log import DecisionLog
from finml.serving.decisions import Action, Decision, DecisionEngine, DecisionPolicy, Signal
from finml.serving.decisions.records import decision_row
from finml.serving.sla import Breach, SlaWatch

if TYPE_CHECKING:
    from collections.abc import Callable

    from prometheus_client import CollectorRegistry

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.serving.models import ModelSlots

log = get_logger("serving.decide")
STAGES = ("features", "model", "regime", "decision", "total")
ANSWERED = (
    "action",
    "reason",
    "side",
    "quantity",
    "notional",
    "kelly",
    "risk_score",
    "factors",
    "pnl",
    "equity",
)  # the decision's fields in the answer
EARLIEST, LATEST = datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_REGIMES = ("normal", "stress", "crisis")
_LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


class DecideRequest(BaseModel):
    """One raw trade (as a collector sends it) and the account it is decided for."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: str = Field(min_length=1, max_length=32)
    ts: datetime = Field(description="Trade time; without a zone it is UTC")
    price: float = Field(gt=0)
    volume: float = Field(gt=0)
    trade_id: str | None = Field(None, min_length=1, max_length=128)
    conditions: list[str] = Field(default_factory=list, max_length=16)
    account: str = Field("default", min_length=1, max_length=64)

    @field_validator("ts")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST <= aware < LATEST:
            raise ValueError(
                f"expected a time from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}"
            )
        return aware


class DecideBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trades: list[DecideRequest] = Field(min_length=1, max_length=1000)


class DecideResponse(BaseModel):
    """What ``POST /decide`` answers for one trade."""

    request_id: str
    trade_id: str
    duplicate: bool
    out_of_order: bool
    features: dict[str, float | None]
    anomaly_probability: float | None = Field(
        description="null when the champion cannot score the trade's null features (warm-up)"
    )
    model_name: str
    model_version: str
    regime: dict[str, float]
    next_regime: dict[str, float]
    action: str = Field(description="NO_ACTION | RISK_REJECTED | EXIT_POSITION | TAKE_ACTION")
    reason: str
    side: int
    quantity: float
    notional: float
    kelly: float | None
    risk_score: float | None
    factors: dict[str, float]
    pnl: float | None
    equity: float
    latency_ms: dict[str, float]


class DecideBatchResponse(BaseModel):
    decisions: list[DecideResponse]


class DecisionUnavailable(Exception):
    """The champion needs a feature the online build does not compute."""


class RegimeView:
    """Per symbol, the regime model's view known before a day (see the module docstring)."""

    def __init__(self, states: pd.DataFrame | None):
        self._days: dict[str, list[date]] = {}
        self._rows: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {}
        if states is None or states.empty:
            return
        for symbol, rows in states.sort_values("trade_date").groupby("symbol", sort=True):
            self._days[str(symbol)] = [pd.Timestamp(d).date() for d in rows["trade_date"]]
            self._rows[str(symbol)] = [
                (_probabilities(r, "p_filtered_"), _probabilities(r, "p_next_"))
                for r in rows.to_dict("records")
            ]

    def before(self, symbol: str, day: date) -> tuple[dict[str, float], dict[str, float]]:
        """(now, next) of the latest regime day of ``symbol`` strictly before ``day``."""
        days = self._days.get(symbol, [])
        index = bisect_left(days, day) - 1
        return self._rows[symbol][index] if index >= 0 else ({}, {})


class DecisionService:
    """The ``/decide`` pipeline over the serving slots (see the module docstring)."""

    def __init__(
        self,
        config: ProjectConfig,
        tables: DeltaTables,
        slots: ModelSlots,
        registry: CollectorRegistry,
        alert: Callable[[Breach], None] | None = None,
    ):
        from prometheus_client import Counter, Histogram

        policy = DecisionPolicy.from_config(config)
        self.slots = slots
        self.online = OnlineFeatures(feature_settings(config))
        self.engine = DecisionEngine(policy)
        self.regimes = RegimeView(_frame(tables, "regime_states"))
        self.log = DecisionLog(tables, alert=alert)
        self.sla = SlaWatch(policy.latency_budgets)
        self.breaches = Counter(
            "finml_decide_sla_breaches",
            "Windows in which a /decide stage's p99 exceeded its budget",
            ("stage",),
            registry=registry,
        )
        self.warmed = self.online.warm_start(_silver_tail(tables, self.online))
        self.latency = Histogram(
            "finml_decide_stage_seconds",
            "Latency of each /decide stage",
            ("stage",),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._stage = {s: self.latency.labels(stage=s) for s in STAGES}
        log.info("decide_ready", warmed_trades=self.warmed, symbols=len(self.online.symbols))

    def decide(self, request_id: str, trade: DecideRequest) -> dict[str, Any]:
        """The decision for ``trade``, with its features, probability, regime view, risk
        factors and per-stage latency (ms).

        Raises:
            LateTrade: the trade is older than the kept state (a 422).
            DecisionUnavailable: the champion needs a feature not computed online (a 503).
        """
        clock = [time.perf_counter()]
        ts = trade.ts  # aware: the request model made it so
        row = self.online.update(
            RawTrade(
                trade.symbol, ts, trade.price, trade.volume, trade.trade_id, tuple(trade.conditions)
            )
        )
        clock.append(time.perf_counter())
        champion = self.slots.current.champion
        scored = self._score(champion, row.features)
        clock.append(time.perf_counter())
        now, ahead = self.regimes.before(trade.symbol, row.trade_date)
        clock.append(time.perf_counter())
        probability = None if isinstance(scored, str) else scored
        decision = self._decision(trade, row.features, scored, now, ahead)
        clock.append(time.perf_counter())
        latency = self._observe(clock)
        out = decision.as_dict()
        record = _record(request_id, trade, row, champion, probability, now, ahead, out)
        record["latency_ms"] = json.dumps(latency)
        self.log.add(record)
        return {
            "request_id": request_id,
            "trade_id": row.trade_id,
            "duplicate": row.duplicate,
            "out_of_order": row.out_of_order,
            "features": _json_safe(row.features),
            "anomaly_probability": probability,
            "model_name": champion.name,
            "model_version": str(champion.version),
            "regime": now,
            "next_regime": ahead,
            **{k: out[k] for k in ANSWERED},
            "latency_ms": latency,
        }

    def _decision(self, trade, features, scored, now, ahead) -> Decision:
        if isinstance(scored, str):  # warming up: nothing to decide on yet
            equity = self.engine.portfolio(trade.account).equity
            return Decision(Action.NO_ACTION, scored, trade.account, trade.symbol, equity=equity)
        signal = Signal(
            trade.symbol,
            trade.ts,
            trade.price,
            features.get("log_return"),
            scored,
            now,
            ahead,
            trade.account,
        )
        return self.engine.decide(signal)

    def _score(self, champion: Any, features: dict[str, float | None]) -> float | str:
        """The champion's probability, or why there is none yet: a null (or infinite)
        feature the champion refuses to score (FinML's pyfuncs impute them; a symbol's
        first trades have some)."""
        missing = [f for f in champion.features if f not in features]
        if missing:
            raise DecisionUnavailable(
                f"champion v{champion.version}: expected features the online build computes, "
                f"got {missing}"
            )
        values = [[_finite_or_nan(features[f]) for f in champion.features]]
        null = [f for f, v in zip(champion.features, values[0], strict=True) if math.isnan(v)]
        frame = pd.DataFrame(values, columns=list(champion.features))
        try:  # FinML's models impute null features, as in batch scoring; others may refuse
            scored = champion.predict_fn(frame)
        except ValueError:
            if not null:
                raise
            return f"warming up: the champion cannot score null features ({', '.join(null[:3])})"
        score = float(np.asarray(scored["score"])[0])
        if not math.isfinite(score):
            raise DecisionUnavailable(f"champion v{champion.version}: non-finite score {score}")
        return score

    def _observe(self, clock: list[float]) -> dict[str, float]:
        spans = dict(zip(STAGES[:-1], np.diff(clock).tolist(), strict=True))
        spans["total"] = clock[-1] - clock[0]
        for stage, seconds in spans.items():
            self._stage[stage].observe(seconds)
        breaches = self.sla.observe(spans)
        if breaches:
            for breach in breaches:
                self.breaches.labels(stage=breach.stage).inc()
            self.log.breached(breaches)
        return {stage: round(seconds * 1000, 4) for stage, seconds in spans.items()}


def _record(request_id, trade, row, champion, probability, now, ahead, out) -> dict[str, Any]:
    inputs = {
        "decision_id": uuid.uuid4().hex,
        "run_id": request_id,
        "source": "serving",
        "account": trade.account,
        "symbol": trade.symbol,
        "trade_id": row.trade_id,
        "ts": row.ts,
        "price": trade.price,
        "probability": probability,
        "model_name": champion.name,
        "model_version": str(champion.version),
    }
    return decision_row(inputs, out, (now, ahead), datetime.now(UTC))


def _finite_or_nan(value: float | None) -> float:
    return math.nan if value is None or not math.isfinite(value) else value


def _json_safe(values: dict[str, float | None]) -> dict[str, float | None]:
    """Infinite values (a price or volume so large a ratio overflows) as null, as JSON has
    no infinity; the model saw them as they are."""
    return {k: v if v is None or math.isfinite(v) else None for k, v in values.items()}


def _probabilities(row: dict[str, Any], prefix: str) -> dict[str, float]:
    values = {r.capitalize(): row.get(f"{prefix}{r}") for r in _REGIMES}
    return {k: float(v) for k, v in values.items() if v is not None and not math.isnan(v)}


def _frame(tables: DeltaTables, name: str) -> pd.DataFrame | None:
    table = tables.table(name)
    return table.to_arrow().to_pandas() if table.exists() else None


def _silver_tail(tables: DeltaTables, online: OnlineFeatures) -> pd.DataFrame:
    """Each symbol's latest trading day of ``silver_trades`` and the lookback before it."""
    table = tables.table("silver_trades")
    if not table.exists():
        return pd.DataFrame(columns=list(WARM_COLUMNS))
    return online.warm_tail(table.to_arrow().select(list(WARM_COLUMNS)).to_pandas())


__all__ = [
    "DecideBatchRequest",
    "DecideBatchResponse",
    "DecideRequest",
    "DecideResponse",
    "DecisionService",
    "DecisionUnavailable",
    "LateTrade",
    "RegimeView",
]
