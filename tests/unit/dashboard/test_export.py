"""The export reads whatever tables exist; missing ones are explicit empty states."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest
from dashboard_sample import NOW, RULES, write_sample_warehouse

from finml.dashboard import build_snapshot, validate_snapshot
from finml.dashboard.extract import _SECTIONS, section
from finml.dashboard.runner import sections
from finml.dashboard.schema import Section
from finml.dashboard.settings import DashboardSettings
from finml.errors import ConfigError
from finml.jobs.dashboard import export_dashboard

EXPECTED = [
    "overview",
    "timeline",
    "regimes",
    "data_quality",
    "eda",
    "drift",
    "alerts",
    "anomalies",
    "models",
    "model_metrics",
    "decisions",
    "serving",
    "retraining",
    "job_runs",
    "settings",
]


ALWAYS = {"overview", "settings"}  # never empty: health and the active configuration


def _by_id(snapshot) -> dict[str, Section]:
    return {s.id: s for s in snapshot.sections}


def test_sections_are_registered_in_display_order() -> None:
    assert [s.id for s in sections()] == EXPECTED


def test_empty_warehouse_gives_an_empty_state_per_section(config, rs_tables) -> None:
    snapshot = build_snapshot(config, rs_tables, now=NOW)
    found = _by_id(snapshot)
    assert list(found) == EXPECTED
    for sid in set(EXPECTED) - ALWAYS:
        assert found[sid].status == "empty", sid
        assert "does not exist" in found[sid].empty_reason or "exists" in found[sid].empty_reason
        assert found[sid].hint
        assert all(not s.exists for s in found[sid].sources)
    assert "`drift_monitoring` does not exist" in found["drift"].empty_reason
    assert "`eda_profile` does not exist" in found["eda"].empty_reason
    assert "none of `model_monitoring`, `pr_curves`, `feature_importance` exists" in (
        found["model_metrics"].empty_reason
    )
    assert found["model_metrics"].hint == "finml train && finml monitor"
    assert "`inference_log` does not exist" in found["serving"].empty_reason
    # the settings always show the configuration the export was given
    assert found["settings"].status == "ok"
    assert ["catalog", config.catalog] in found["settings"].tables[0].rows
    # the overview always says something: health and champion state
    kpis = {k.label: k.value for k in found["overview"].kpis}
    assert kpis["System health"] == "healthy"
    assert kpis["Champion model"] == "no MLflow store"
    assert not (config.home / "mlflow.db").exists()  # reading must not create a store


def test_sample_warehouse_fills_every_section(config, rs_tables) -> None:
    written = write_sample_warehouse(rs_tables)
    found = _by_id(build_snapshot(config, rs_tables, now=NOW))
    assert all(s.status == "ok" for s in found.values()), {
        k: s.empty_reason for k, s in found.items() if s.status != "ok"
    }
    sources = {src.name: src.rows for s in found.values() for src in s.sources}
    for name, rows in written.items():
        assert sources[name] == rows, name

    drift = found["drift"]
    kpis = {k.label: k.value for k in drift.kpis}
    assert kpis["Worst severity"] == "HIGH"
    latest = drift.tables[0]
    assert latest.rows[0][0] == "vol_5m"  # sorted by PSI, the drifting feature first

    heat = next(c for c in found["regimes"].charts if c.kind == "heatmap")
    assert np.allclose(np.sum(heat.z, axis=1), 1.0, atol=1e-3)
    timeline = next(c for c in found["regimes"].charts if c.id == "regimes_timeline")
    assert [s.name for s in timeline.series] == ["AAPL", "MSFT", "SPY"]

    quarantine = next(t for t in found["data_quality"].tables if t.id == "dq_quarantine_rules")
    assert {rule: rows for rule, rows, _ in quarantine.rows} == {
        "price_positive": 2,
        "volume_positive": 2,
    }
    failures = next(c for c in found["data_quality"].charts if c.id == "dq_rule_failures")
    assert {s.name for s in failures.series} == set(RULES)

    overview = {k.label: k.value for k in found["overview"].kpis}
    assert overview["System health"] == "degraded"  # a FAILED task and a HIGH alert
    jobs = {k.label: k.value for k in found["job_runs"].kpis}
    assert jobs["Success rate"] == 75.0
    models = {k.label: k.value for k in found["models"].kpis}
    assert (models["Promotions"], models["Rejections"], models["Rollbacks"]) == (2, 1, 1)


def test_medallion_sources_carry_their_contract(config, rs_tables) -> None:
    """The provenance the dashboard shows comes from the table contracts."""
    from finml.pipelines import contracts

    write_sample_warehouse(rs_tables)
    quality = _by_id(build_snapshot(config, rs_tables, now=NOW))["data_quality"]
    source = {s.name: s for s in quality.sources}
    quarantine = source["silver_quarantine"]
    assert quarantine.table == f"{config.catalog}.{config.db_schema}.silver_quarantine"
    assert quarantine.comment == contracts.SILVER_QUARANTINE.comment
    # a quarantine table's rows are decided by silver's quarantine rules (not its warn rule)
    assert "price_positive (quarantine)" in quarantine.rules
    assert "conditions_present (warn)" not in quarantine.rules
    assert len(quarantine.rules) == 14
    assert source["data_quality_log"].table is None  # not a medallion table: no contract
    rules = next(t for t in quality.tables if t.id == "dq_quarantine_rules")
    says = {row[0]: row[2] for row in rules.rows}
    assert says["price_positive"] == "price IS NULL OR isnan(price) OR price > 0"
    assert says["volume_positive"] == ""  # a rule no contract declares


def test_a_failing_extractor_becomes_an_empty_state(config, rs_tables, monkeypatch) -> None:
    monkeypatch.setattr("finml.dashboard.extract._SECTIONS", dict(_SECTIONS))

    @section("broken", "Broken", order=99)
    def broken(ctx) -> Section:
        raise ValueError("column foo missing")

    found = _by_id(build_snapshot(config, rs_tables, now=NOW))
    assert found["broken"].status == "empty"
    assert "ValueError: column foo missing" in found["broken"].empty_reason


def test_a_table_with_unexpected_columns_does_not_sink_the_export(config, rs_tables) -> None:
    rs_tables.table("alerts").append(pa.table({"something": [1, 2]}))
    found = _by_id(build_snapshot(config, rs_tables, now=NOW))
    assert found["alerts"].status == "empty"
    assert "Could not extract" in found["alerts"].empty_reason
    assert found["drift"].status == "empty"


def test_export_writes_an_offline_site(config, rs_tables, tmp_path) -> None:
    write_sample_warehouse(rs_tables)
    rs_tables.table("alerts").append(
        pa.Table.from_pylist(
            [{"alert_id": "x", "title": "</script><b>x</b>", "created_at": NOW}],
            rs_tables.table("alerts").to_arrow().schema,
        )
    )
    index = export_dashboard(config, rs_tables, tmp_path / "site")
    site = index.parent
    assert index.name == "index.html" and index.is_file()
    script = (site / "snapshot.js").read_text()
    assert script.startswith("window.FINML_SNAPSHOT = ")
    assert "</script>" not in script
    payload = json.loads(script.removeprefix("window.FINML_SNAPSHOT = ").rstrip().rstrip(";"))
    assert validate_snapshot(payload).sections[0].id == "overview"
    assert validate_snapshot((site / "snapshot.json").read_text()) == validate_snapshot(payload)
    plotly_js = (site / "vendor" / "plotly.min.js").read_text()
    assert len(plotly_js) > 1_000_000 and "plotly.js" in plotly_js[:500]
    for name in ("index.html", "app.js", "style.css"):
        text = (site / name).read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), name
        assert "cdn" not in text.lower(), name


def test_default_output_is_under_home(config, rs_tables) -> None:
    index = export_dashboard(config, rs_tables)
    assert index == (config.home / "dashboard" / "index.html").resolve()


def test_settings_reject_unknown_keys_and_non_loopback_hosts() -> None:
    assert DashboardSettings.model_validate({}).port == 8050
    with pytest.raises(ValueError, match="host"):
        DashboardSettings(host="0.0.0.0")
    from finml.config import ProjectConfig

    class WithSection(ProjectConfig):
        dashboard: dict = {"colour": "red"}

    with pytest.raises(ConfigError, match=r"dashboard\.colour"):
        DashboardSettings.from_config(WithSection())


def test_charts_keep_only_the_newest_points(config, rs_tables) -> None:
    from datetime import timedelta

    from finml.dashboard.extract import MAX_POINTS
    from finml.monitoring.schemas import DRIFT_MONITORING

    windows = MAX_POINTS + 60
    records = [
        {
            "window": {"start": NOW + timedelta(hours=w), "end": NOW + timedelta(hours=w + 1)},
            "column_name": "f",
            "population_stability_index": float(w),
            "js_distance": 0.0,
            "severity": "NONE",
        }
        for w in range(windows)
    ]
    full = [{f.name: r.get(f.name) for f in DRIFT_MONITORING} for r in records]
    rs_tables.table("drift_monitoring").append(pa.Table.from_pylist(full, DRIFT_MONITORING))
    drift = _by_id(build_snapshot(config, rs_tables, now=NOW))["drift"]
    psi = next(c for c in drift.charts if c.id == "drift_psi").series[0]
    assert len(psi.y) == MAX_POINTS
    assert psi.y[-1] == float(windows - 1) and psi.y[0] == float(windows - MAX_POINTS)
    assert next(s for s in drift.sources).rows == windows  # the KPI side still sees all rows
