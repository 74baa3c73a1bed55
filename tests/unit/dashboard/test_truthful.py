"""A truthful dashboard (issue 20 item 7): health says which checks failed, every section
says what data it shows, drift names its reference, decisions carry their reasons, and the
chart specs ask for readable axes."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from dashboard_sample import FEATURES, KINDS, NOW, REFERENCE, SIMULATED, write_sample_warehouse

from finml.dashboard import build_snapshot
from finml.dashboard.schema import Chart, Section
from finml.models.audit import GATE_SCHEMA
from finml.monitoring.schemas import DRIFT_MONITORING

PROBABILITY_CHARTS = {
    "timeline_pr_auc",
    "models_leaderboard",
    "models_kind_recall",
    "models_member_weights",
    "models_champion_history",
    "models_gate_improvement",
    "model_performance",
    "ab_precision",
    "drift_js",
}


def _sections(config, tables) -> dict[str, Section]:
    return {s.id: s for s in build_snapshot(config, tables, now=NOW).sections}


def _charts(found: dict[str, Section]) -> dict[str, Chart]:
    return {c.id: c for s in found.values() for c in s.charts}


def _kpi(section: Section, label: str):
    return next(k for k in section.kpis if k.label == label)


def test_health_names_the_checks_that_failed(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    health = _kpi(_sections(config, rs_tables)["overview"], "System health")
    assert (health.value, health.status) == ("degraded", "bad")
    assert "job medallion_pipeline_job FAILED (last run)" in health.detail
    assert "2 open HIGH/CRITICAL alerts (24 h)" in health.detail
    drift = next(d for d in health.detail if "HIGH drift" in d)
    assert drift.startswith("1 HIGH drift columns in window 2026-03-01 (vol_5m)")
    assert REFERENCE in drift


def test_an_acknowledged_alert_is_not_open(config, rs_tables) -> None:
    from finml.monitoring.alerts import acknowledge

    write_sample_warehouse(rs_tables)
    acknowledge(rs_tables, "a2", "alice", "on it", now=lambda: NOW)
    found = _sections(config, rs_tables)
    assert "1 open HIGH/CRITICAL alerts (24 h)" in _kpi(found["overview"], "System health").detail
    assert _kpi(found["alerts"], "Alerts").value == 4  # the ack row is no alert
    assert _kpi(found["alerts"], "Acknowledged").value == 1


def test_a_healthy_system_says_all_checks_passed(config, rs_tables) -> None:
    health = _kpi(_sections(config, rs_tables)["overview"], "System health")
    assert (health.value, health.detail) == ("healthy", ["all checks passed"])


def test_every_section_says_what_data_it_shows(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    found = _sections(config, rs_tables)
    for sid, section in found.items():
        assert section.status == "ok", sid
        assert section.covers, sid
        assert any(ch.isdigit() for ch in " ".join(section.covers)), sid
    assert found["alerts"].covers[0] == (
        "alerts: 4 alerts (every delivery outcome), 2026-03-01 10:00 → 2026-03-02 04:00 UTC"
    )


def test_drift_shows_one_reference_and_names_it(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    drift = _sections(config, rs_tables)["drift"]
    psi = next(c for c in drift.charts if c.id == "drift_psi")
    assert [s.name for s in psi.series] == sorted(FEATURES)  # not the simulated columns
    assert _kpi(drift, "Reference").value == REFERENCE
    assert "reference: " + REFERENCE in drift.covers
    assert "6 rows of other references not shown" in drift.covers
    assert drift.covers[0].startswith("drift_monitoring: 32 rows (8 windows, 4 columns)")


def test_drift_without_a_reference_says_so(config, rs_tables) -> None:
    from finml.dashboard.sections.drift import NO_REFERENCE

    records = [
        {
            "window": {"start": NOW, "end": NOW + timedelta(days=1)},
            "column_name": c,
            "population_stability_index": 0.3,
            "js_distance": 0.1,
            "severity": "HIGH",
        }
        for c in SIMULATED
    ]
    full = [{f.name: r.get(f.name) for f in DRIFT_MONITORING} for r in records]
    rs_tables.table("drift_monitoring").append(pa.Table.from_pylist(full, DRIFT_MONITORING))
    found = _sections(config, rs_tables)
    drift = found["drift"]
    reference = _kpi(drift, "Reference")
    assert reference.value == "none" and reference.detail == [NO_REFERENCE]
    assert _kpi(drift, "Reference").status == "warn"
    assert "simulated market" in " ".join(drift.notes)
    health = _kpi(found["overview"], "System health")
    assert health.value == "attention"
    assert any(NO_REFERENCE in d for d in health.detail)


def test_retraining_checks_are_per_day_with_their_reasons(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    chart = _charts(_sections(config, rs_tables))["retraining_windows"]
    assert chart.x_axis == "day"
    skip = next(s for s in chart.series if s.name == "skip")
    assert skip.x == ["2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01"]
    assert skip.y == [1.0, 1.0, 1.0, 0.0]
    assert skip.text[2] == "skip: drift: 1 of the last 3 windows violated (need 2 of 3)"
    assert skip.text[3] is None  # no skip that day
    trigger = next(s for s in chart.series if s.name == "trigger")
    assert trigger.text[3] == "trigger: drift: 2 of the last 3 windows violated (need 2 of 3)"


def test_charts_per_day_use_a_day_axis(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    charts = _charts(_sections(config, rs_tables))
    for chart_id in ("alerts_per_day", "retraining_windows", "timeline_rows", "drift_psi"):
        assert charts[chart_id].x_axis == "day", chart_id
    assert charts["alerts_per_day"].series[0].x == ["2026-03-01", "2026-03-02"]


def test_probability_axes_are_fixed_to_zero_one(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    charts = _charts(_sections(config, rs_tables))
    for chart_id in PROBABILITY_CHARTS:
        assert charts[chart_id].y_range == [0.0, 1.0], chart_id


def test_rows_per_table_are_sorted_horizontal_bars_on_a_log_scale(config, rs_tables) -> None:
    written = write_sample_warehouse(rs_tables)
    chart = _charts(_sections(config, rs_tables))["overview_table_rows"]
    assert (chart.horizontal, chart.value_scale) == (True, "log")
    rows = chart.series[0].y
    assert rows == sorted(rows, reverse=True)
    assert len(rows) == len(written) and chart.series[0].text[0] == f"{int(rows[0]):,}"


def test_gate_chart_has_bars_for_a_first_model_without_champion(config, rs_tables) -> None:
    first = {
        "event_id": "g1",
        "decided_at": NOW,
        "challenger_version": "1",
        "metric": "pr_auc",
        "challenger_metric": 0.62,
        "decision": "PROMOTE",
        "reasons": "no champion yet",
    }  # champion_version, champion_metric and improvement are null
    table = pa.Table.from_pylist([{f.name: first.get(f.name) for f in GATE_SCHEMA}], GATE_SCHEMA)
    rs_tables.table("champion_challenger_audit").append(table)
    chart = _charts(_sections(config, rs_tables))["models_gate_improvement"]
    values = [y for s in chart.series for y in s.y if y is not None]
    assert values == [0.62]
    assert chart.series[0].x == ["v1 PROMOTE"] and chart.series[0].text == ["no champion yet"]


def test_models_show_the_latest_tournaments_recall_per_anomaly_kind(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    models = _sections(config, rs_tables)["models"]
    chart = next(c for c in models.charts if c.id == "models_kind_recall")
    assert [s.name for s in chart.series] == ["lightgbm", "xgboost"]  # not the older "old"
    assert all(s.x == list(KINDS) for s in chart.series)
    assert chart.series[0].y == [0.9, 0.4, 0.7]
    table = next(t for t in models.tables if t.id == "models_kind_table")
    assert len(table.rows) == 6
    assert any(c.startswith("anomaly_kind_quality: 9 per-kind results") for c in models.covers)


def test_models_show_the_ensemble_members_live_weights(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    models = _sections(config, rs_tables)["models"]
    chart = next(c for c in models.charts if c.id == "models_member_weights")
    assert [s.name for s in chart.series] == ["lightgbm", "random_forest"]
    assert chart.series[0].y == pytest.approx([0.5, 0.6, 0.7])
    assert chart.series[1].y == pytest.approx([0.5, 0.4, 0.3])
    table = next(t for t in models.tables if t.id == "models_member_table")
    latest = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert set(latest) == {"lightgbm", "random_forest"}  # the latest window only
    assert latest["lightgbm"]["live_weight"] == pytest.approx(0.7)
    assert latest["random_forest"]["edge"] == pytest.approx(-0.05)
    assert any(c.startswith("ensemble_member_monitoring: 6 member windows") for c in models.covers)


def test_decisions_show_the_latest_backtest(config, rs_tables) -> None:
    write_sample_warehouse(rs_tables)
    section = _sections(config, rs_tables)["decisions"]
    kpis = {k.label: k.value for k in section.kpis}
    assert kpis["PnL"] == 750.0 and kpis["Win rate"] == 0.5
    assert kpis["Profit factor"] == 4.0  # 1,000 won / 250 lost
    assert kpis["Max drawdown"] == pytest.approx(round(250 / 1_001_000, 5))
    assert kpis["Positions opened"] == 2  # the older run's position is not counted
    assert kpis["Decisions / hour"] == 6.0  # 6 decisions in one hour
    charts = {c.id: c for c in section.charts}
    assert charts["decisions_equity"].series[0].y == [1_000_000.0, 1_001_000.0, 1_000_750.0]
    assert charts["decisions_by_action"].series[0].y == [2.0, 2.0, 0.0, 2.0]
    confidence = charts["decisions_confidence"].series[0]
    assert sum(confidence.y) == 6 and len(confidence.x) == 20  # the latest run's 6 decisions
    assert {x: y for x, y in zip(confidence.x, confidence.y, strict=True) if y} == {
        "0.05-0.10": 1.0, "0.10-0.15": 1.0, "0.30-0.35": 1.0, "0.80-0.85": 1.0,
        "0.90-0.95": 1.0, "0.95-1.00": 1.0,
    }  # fmt: skip
    heat, risk = charts["decisions_exposure"].series
    assert heat.y == [0.0, 0.5] and risk.y == [0.2, 0.4]
    latency = {s.name: s for s in charts["decisions_latency"].series}
    assert latency["budget"].x == ["features", "model", "decision", "total"]
    assert latency["budget"].y == [50.0, 100.0, 50.0, 200.0]
    assert latency["p50"].y == pytest.approx([2.0, 4.0, 0.1, 8.0])
    assert latency["p99"].y == pytest.approx([2.98, 5.96, 0.1, 11.92])
    assert "2 served decisions" in charts["decisions_latency"].title
    feed = section.tables[0]
    assert [r[feed.columns.index("action")] for r in feed.rows] == [
        "EXIT_POSITION",
        "TAKE_ACTION",
        "EXIT_POSITION",
        "TAKE_ACTION",
    ]
