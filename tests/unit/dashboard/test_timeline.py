"""The loop timeline: per-window rows, drift, decisions, champion and PR-AUC, hand-computed;
any of its tables missing or empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from dashboard_sample import NOW

from finml.dashboard import build_snapshot
from finml.dashboard.sections.timeline import COLUMNS, TABLES
from finml.models.audit import GATE_SCHEMA, ROLLBACK_SCHEMA
from finml.monitoring.schemas import TABLE_SCHEMAS
from finml.serving.scoring import PREDICTIONS_SCHEMA

D1, D2, D3 = (datetime(2026, 3, d, tzinfo=UTC) for d in (2, 3, 4))
DAY = timedelta(days=1)


def _arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)


def _loop(tables) -> None:
    """Three days: v1 serves day 1; drift HIGH and a trigger on day 2, v2 promoted at 18:00;
    day 3 a manual promotion of v3 at 09:00, rolled back to v2 at 15:00."""
    window = lambda day: {"start": day, "end": day + DAY}  # noqa: E731
    predictions = [
        {"trade_id": f"{d}-{i}", "ts": day + timedelta(hours=15, minutes=i), "model_version": v}
        for d, day in enumerate((D1, D2, D3))
        for i in range(3 + d)
        for v in (("1", "2") if d == 1 else ("1",) if d == 0 else ("3", "2"))
    ]
    perf = [
        {"window": window(day), "model_version": v, "count": n, "labelled_count": labelled,
         "pr_auc": pr_auc}
        for day, v, n, labelled, pr_auc in (
            (D1, "1", 3, 3, 0.7),
            (D2, "1", 4, 4, 0.5),
            (D2, "2", 4, 2, 0.8),
            (D3, "3", 5, 5, 0.2),
            (D3, "2", 5, 5, 0.75),
        )
    ]  # fmt: skip
    drift = [
        {"window": window(day), "column_name": c, "severity": s}
        for day, severities in ((D1, ("NONE", None)), (D2, ("MEDIUM", "HIGH")))
        for c, s in zip(("ret", "vol"), severities, strict=True)
    ]
    retrain = [
        {"decided_at": D2 + timedelta(hours=h), "decision": d, "reason": r}
        for h, d, r in ((10, "skip", "1 of 3"), (12, "trigger", "drift HIGH"), (14, "skip", "cd"))
    ]
    gate = [
        {"decided_at": D2 + timedelta(hours=18), "challenger_version": "2", "decision": "PROMOTE"},
        {"decided_at": D2 + timedelta(hours=19), "challenger_version": "4", "decision": "REJECT"},
        {"decided_at": D3 + timedelta(hours=9), "challenger_version": "3",
         "decision": "MANUAL_PROMOTE"},
    ]  # fmt: skip
    rollback = [
        {"rolled_back_at": D3 + timedelta(hours=15), "from_version": "3", "to_version": "2"}
    ]
    for name, data in {
        "predictions": _arrow(predictions, PREDICTIONS_SCHEMA),
        "model_monitoring": _arrow(perf, TABLE_SCHEMAS["model_monitoring"]),
        "drift_monitoring": _arrow(drift, TABLE_SCHEMAS["drift_monitoring"]),
        "retraining_audit": _arrow(retrain, TABLE_SCHEMAS["retraining_audit"]),
        "champion_challenger_audit": _arrow(gate, GATE_SCHEMA),
        "rollback_audit": _arrow(rollback, ROLLBACK_SCHEMA),
    }.items():
        tables.table(name).append(data)


def _timeline(config, tables):
    return next(s for s in build_snapshot(config, tables, now=NOW).sections if s.id == "timeline")


def test_windows_are_computed_from_every_table(config, rs_tables) -> None:
    _loop(rs_tables)
    found = _timeline(config, rs_tables)
    assert found.status == "ok"
    table = found.tables[0]
    assert table.columns == COLUMNS
    by_window = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in table.rows}
    assert list(by_window) == ["2026-03-04", "2026-03-03", "2026-03-02"]  # newest first
    d1, d2, d3 = (by_window[d] for d in ("2026-03-02", "2026-03-03", "2026-03-04"))
    # distinct trades, however many versions scored them
    assert (d1["rows_scored"], d2["rows_scored"], d3["rows_scored"]) == (3, 4, 5)
    # worst column per window; a null severity counts as NONE; no drift rows on day 3
    assert (d1["drift_severity"], d2["drift_severity"], d3["drift_severity"]) == (
        "NONE",
        "HIGH",
        None,
    )
    # the day's trigger is shown although a skip came after it
    assert (d2["retrain_decision"], d2["retrain_reason"]) == ("trigger", "drift HIGH")
    assert d1["retrain_decision"] is None
    # v1 scored day 1 (no event yet); v2 promoted on day 2; day 3: v3 manual, rolled back
    assert (d1["champion"], d2["champion"], d3["champion"]) == ("1", "2", "2")
    assert (d2["versions_scored"], d3["versions_scored"]) == ("1, 2", "2, 3")
    # the champion's PR-AUC, not the other version's
    assert (d1["pr_auc"], d2["pr_auc"], d3["pr_auc"]) == (0.7, 0.8, 0.75)
    assert d2["events"] == "retrain: drift HIGH; v2 promoted"
    assert d3["events"] == "v3 manual promotion; rollback v3 -> v2"

    charts = {c.id: c for c in found.charts}
    pr = charts["timeline_pr_auc"]
    assert [s.name for s in pr.series] == ["v1", "v2", "v3"]
    assert [(e.kind, e.label) for e in pr.events] == [
        ("promotion", "v2 promoted"),
        ("manual_promotion", "v3 manual promotion"),
        ("rollback", "rollback v3 -> v2"),
    ]
    assert pr.events[0].x == (D2 + timedelta(hours=18)).isoformat()
    drift = charts["timeline_drift"]
    assert drift.series[0].y == [0.0, 2.0, None] and drift.y_labels == ["NONE", "MEDIUM", "HIGH"]
    assert [e.kind for e in drift.events] == ["retrain"]
    kpis = {k.label: k.value for k in found.kpis}
    assert kpis["Champion (latest window)"] == "v2"
    assert (kpis["Promotions"], kpis["Rollbacks"], kpis["Retrains triggered"]) == (2, 1, 1)


def test_any_single_table_is_enough(config, rs_tables) -> None:
    _loop(rs_tables)
    for name in TABLES:  # one table at a time: the others missing
        from finml.runtime.delta import DeltaTables

        home = config.home.parent / f"only_{name}"
        only = type(config)(home=home)
        tables = DeltaTables.from_config(only, None)
        tables.table(name).append(rs_tables.table(name).to_arrow())
        found = _timeline(only, tables)
        assert found.status == "ok", (name, found.empty_reason)
        assert found.tables[0].rows, name


def test_missing_or_empty_tables_give_the_empty_state(config, rs_tables) -> None:
    found = _timeline(config, rs_tables)
    assert found.status == "empty" and "none of `predictions`" in (found.empty_reason or "")
    empty = _arrow([], TABLE_SCHEMAS["drift_monitoring"])
    rs_tables.table("drift_monitoring").append(empty)
    found = _timeline(config, rs_tables)
    assert found.status == "empty" and "has rows" in (found.empty_reason or "")
    assert found.hint and "finml replay" in found.hint
