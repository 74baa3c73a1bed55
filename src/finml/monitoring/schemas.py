"""Schemas of the monitoring tables, written driver-side as Arrow through delta-rs or Spark.

``drift_monitoring`` follows the column names of Databricks Lakehouse Monitoring's drift
metrics table (``window``, ``column_name``, ``drift_type``, ``js_distance``, ``ks_test``, ...)
so users recognise it; ``wasserstein_distance`` is normalised by the reference standard
deviation and ``js_distance`` is the base-2 Jensen-Shannon *distance*.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables, WriteResult

_TS = pa.timestamp("us", tz="UTC")
_TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
_WINDOW = pa.struct([("start", _TS), ("end", _TS)])

DRIFT_MONITORING = pa.schema(
    [
        ("window", _WINDOW),
        ("granularity", pa.string()),
        ("column_name", pa.string()),
        ("data_type", pa.string()),
        ("drift_type", pa.string()),
        ("count_reference", pa.int64()),
        ("count_current", pa.int64()),
        ("population_stability_index", pa.float64()),
        ("js_distance", pa.float64()),
        ("ks_test", _TEST),
        ("wasserstein_distance", pa.float64()),
        ("chi_squared_test", _TEST),
        ("tv_distance", pa.float64()),
        ("l_infinity_distance", pa.float64()),
        ("severity", pa.string()),
        ("reference", pa.string()),  # what was compared against (model and data versions)
        ("_run_id", pa.string()),
        ("_computed_at", _TS),
    ]
)

MODEL_MONITORING = pa.schema(
    [
        ("window", _WINDOW),
        ("granularity", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("source", pa.string()),
        ("count", pa.int64()),
        ("labelled_count", pa.int64()),
        ("positive_count", pa.int64()),
        ("predicted_positive_count", pa.int64()),
        ("pr_auc", pa.float64()),
        ("roc_auc", pa.float64()),
        ("precision", pa.float64()),
        ("recall", pa.float64()),
        ("f1", pa.float64()),
        ("brier_score", pa.float64()),
        ("latency_p50_ms", pa.float64()),
        ("latency_p95_ms", pa.float64()),
        ("latency_p99_ms", pa.float64()),
        ("_computed_at", _TS),
    ]
)

ENSEMBLE_MEMBER_MONITORING = pa.schema(
    [
        ("window", _WINDOW),
        ("granularity", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),  # the ensemble version that served the window
        ("member", pa.string()),
        ("labelled_count", pa.int64()),
        ("positive_count", pa.int64()),
        ("pr_auc", pa.float64()),  # the member alone on the window (null: one class only)
        ("edge", pa.float64()),  # its PR-AUC minus the members' mean on the same rows
        ("edge_se", pa.float64()),  # the paired standard error of that edge
        ("serving_weight", pa.float64()),  # the member's weight in the serving version
        ("level", pa.float64()),  # EWMA of the member's live PR-AUCs up to this window
        ("live_edge", pa.float64()),  # EWMA of its edges
        ("confidence", pa.float64()),
        ("live_weight", pa.float64()),  # the weight the live evidence up to here implies
        ("live_windows", pa.int64()),
        ("_computed_at", _TS),
    ]
)

RETRAINING_AUDIT = pa.schema(
    [
        ("decision_id", pa.string()),
        ("sequence", pa.int64()),  # order of decisions, continued across restarts
        ("decided_at", _TS),
        ("decision", pa.string()),  # trigger | skip
        ("reason", pa.string()),
        ("conditions", pa.string()),  # JSON: the evaluated conditions of this window
        ("violating_windows", pa.int64()),
        ("window_count", pa.int64()),
        ("new_samples", pa.int64()),
        ("action", pa.string()),
        ("action_status", pa.string()),  # started | succeeded | failed | not_run
        ("action_detail", pa.string()),
    ]
)

ALERTS = pa.schema(
    [
        ("alert_id", pa.string()),
        ("created_at", _TS),
        ("alert_type", pa.string()),
        ("severity", pa.string()),
        ("title", pa.string()),
        ("message", pa.string()),
        ("source", pa.string()),
        ("dedup_key", pa.string()),
        ("details", pa.string()),  # JSON
        ("status", pa.string()),  # delivered | failed | deduplicated | recorded | acknowledged
        ("destination", pa.string()),  # a webhook URL or a channel's name
        ("attempts", pa.int64()),
        ("last_error", pa.string()),
        ("delivered_at", _TS),
        # added later: older tables gain them on their next append (schema evolution)
        ("escalated", pa.bool_()),  # sent by the escalation policy (severity / channels)
        ("acknowledged_by", pa.string()),  # on the alert's one `acknowledged` row
        ("acknowledged_at", _TS),
        ("ack_note", pa.string()),
    ]
)

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "drift_monitoring": DRIFT_MONITORING,
    "model_monitoring": MODEL_MONITORING,
    "ensemble_member_monitoring": ENSEMBLE_MEMBER_MONITORING,
    "retraining_audit": RETRAINING_AUDIT,
    "alerts": ALERTS,
}


def arrow_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """``records`` as an Arrow table of ``schema`` (every field nullable)."""
    return pa.Table.from_pylist(records, schema=schema)


def append_records(
    tables: DeltaTables, name: str, records: list[dict[str, Any]]
) -> WriteResult | None:
    """Append ``records`` to monitoring table ``name`` (created on first write)."""
    if not records:
        return None
    return tables.table(name).append(
        arrow_table(records, TABLE_SCHEMAS[name]), schema_evolution=True
    )
