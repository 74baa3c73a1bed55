"""The Delta table ``decisions``: one row per decision, from the backtest, ``POST /decide``
or a stream (``source``), with its inputs, risk factors, reason, size and outcome."""

from __future__ import annotations

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
    ]
)
