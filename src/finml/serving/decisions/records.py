"""The Delta table ``decisions``: one row per decision, from the backtest, ``POST /decide``
or a stream (``source``), with its inputs, risk factors, reason, size and outcome."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

TABLE = "decisions"
_TS = pa.timestamp("us", tz="UTC")
DECISIONS = pa.schema(
    [
        ("decision_id", pa.string()),
        ("run_id", pa.string()),
        ("source", pa.string()),  # backtest | serving | streaming
        ("account", pa.string()),
        ("symbol", pa.string()),
        ("trade_id", pa.string()),
        ("ts", _TS),
        ("price", pa.float64()),
        ("probability", pa.float64()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("regime", pa.string()),  # JSON: P(regime) now and next
        ("action", pa.string()),
        ("reason", pa.string()),
        ("side", pa.int64()),
        ("quantity", pa.float64()),
        ("notional", pa.float64()),
        ("kelly", pa.float64()),
        ("risk_score", pa.float64()),
        ("factors", pa.string()),  # JSON
        ("pnl", pa.float64()),
        ("equity", pa.float64()),
        ("decided_at", _TS),
        ("latency_ms", pa.string()),  # JSON: per-stage latency of a served decision
    ]
)

# The decision's own fields, as :meth:`~finml.serving.decisions.Decision.as_dict` names them
DECIDED = ("action", "reason", "side", "quantity", "notional", "kelly", "risk_score", "pnl",
           "equity")  # fmt: skip


def decision_row(
    trade: dict[str, Any],
    decision: dict[str, Any],
    regime: tuple[dict[str, float], dict[str, float]],
    decided_at: datetime,
) -> dict[str, Any]:
    """One row of :data:`DECISIONS`: ``trade`` holds the identity and inputs
    (``decision_id``, ``run_id``, ``source``, ``account``, ``symbol``, ``trade_id``, ``ts``,
    ``price``, ``probability``, ``model_name``, ``model_version``), ``decision`` the
    engine's answer (``Decision.as_dict()``), ``regime`` P(regime) now and next."""
    now, ahead = regime
    return {
        **trade,
        "regime": json.dumps({"now": now, "next": ahead}),
        **{k: decision[k] for k in DECIDED},
        "factors": json.dumps(decision["factors"]) if decision["factors"] else None,
        "decided_at": decided_at,
        "latency_ms": None,
    }
