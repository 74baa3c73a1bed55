"""Append-only audit tables of the training plane, written driver-side as Arrow (one row per
decision; no Spark needed). Schemas are fixed here so every writer agrees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

CHAMPION_CHALLENGER_AUDIT, ROLLBACK_AUDIT, LEADERBOARD = (
    "champion_challenger_audit",
    "rollback_audit",
    "model_leaderboard",
)
_TS = pa.timestamp("us", tz="UTC")

GATE_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("decided_at", _TS),
        ("model_name", pa.string()),
        ("challenger_version", pa.string()),
        ("champion_version", pa.string()),
        ("metric", pa.string()),
        ("challenger_metric", pa.float64()),
        ("champion_metric", pa.float64()),
        ("improvement", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("min_improvement", pa.float64()),
        ("holdout_rows", pa.int64()),
        ("decision", pa.string()),
        ("reasons", pa.string()),
        ("validation", pa.string()),  # JSON: check name -> passed/detail
        ("holdout_decision", pa.string()),  # the holdout gate's verdict (null: manual)
        ("ab_test_id", pa.string()),  # the replay A/B behind the decision: ab_tests.test_id
    ]
)

ROLLBACK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("rolled_back_at", _TS),
        ("model_name", pa.string()),
        ("from_version", pa.string()),
        ("to_version", pa.string()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("from_metrics", pa.string()),  # JSON of the version's registered holdout metrics
        ("to_metrics", pa.string()),
        ("feature_table_version", pa.int64()),
        ("feature_table_restored", pa.bool_()),
    ]
)


def append_rows(
    tables: DeltaTables, table: str, rows: list[dict[str, Any]], schema: pa.Schema
) -> int:
    """Append ``rows`` (dicts with ``schema``'s fields) to ``table``; returns the new version.

    Columns added to ``schema`` since the table was created are added to it (schema
    evolution), so an audit table written by an older release keeps accepting rows."""
    data = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)
    return tables.table(table).append(data, schema_evolution=True).version
