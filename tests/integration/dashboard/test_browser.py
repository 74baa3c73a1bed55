"""The exported dashboard in headless Chromium: every section renders, no console errors,
screenshots under test-artifacts/dashboard/."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import pytest

from finml.dashboard.serve import make_server
from finml.jobs.dashboard import export_dashboard
from finml.runtime.delta import DeltaTables

_SAMPLE = Path(__file__).resolve().parents[2] / "unit" / "dashboard" / "dashboard_sample.py"
SECTIONS = [
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


def load_sample():
    """The unit tests' sample-warehouse writer (one source of dashboard test data)."""
    spec = importlib.util.spec_from_file_location("dashboard_sample_for_browser", _SAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _register_champion(config) -> None:
    """A real registry entry: anomaly_model v1 with alias champion (no model logging)."""
    from finml import registry

    client = registry.client(config)
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    client.create_registered_model(name)
    source = (config.home / "fake_model").resolve()
    source.mkdir(parents=True)
    version = client.create_model_version(
        name,
        source.as_uri(),
        tags={"finml.candidate": "lightgbm", "finml.metric.pr_auc": "0.74"},
    )
    client.set_registered_model_alias(name, registry.CHAMPION, version.version)


def _open(browser, url: str, width: int = 1400, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(url)
    page.wait_for_selector("body[data-rendered]", timeout=20_000)
    return page, problems


def _screenshots(page, shots: Path, prefix: str) -> None:
    page.screenshot(path=str(shots / f"{prefix}_full.png"), full_page=True)
    for sid in SECTIONS:
        page.locator(f"section#{sid}").screenshot(path=str(shots / f"{prefix}_{sid}.png"))


@pytest.fixture(scope="module")
def populated_site(tmp_path_factory) -> Path:
    from finml.config import ProjectConfig

    config = ProjectConfig(home=tmp_path_factory.mktemp("dash_full") / "home")
    tables = DeltaTables.from_config(config, None)
    load_sample().write_sample_warehouse(tables)
    _register_champion(config)
    return export_dashboard(config, tables)


def test_populated_dashboard_renders_every_section(browser, shots, populated_site) -> None:
    page, problems = _open(browser, populated_site.as_uri())
    assert page.locator("section.section").count() == len(SECTIONS)
    for sid in SECTIONS:
        section = page.locator(f"section#{sid}")
        assert section.get_attribute("data-status") == "ok", sid
        charts = section.locator("div.chart")
        assert charts.count() >= 1, sid
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart_id = chart.get_attribute("id")
            assert chart.locator("svg.main-svg").count() >= 1, chart_id
            # traces were drawn, not just axes
            drawn = chart.locator("g.trace, g.hm, image").count()
            assert drawn >= 1, chart_id
        tables = section.locator("table")
        for i in range(tables.count()):
            assert tables.nth(i).locator("tbody tr").count() >= 1, sid
        assert section.locator(".kpi").count() >= 1, sid
    # the timeline marks promotions and the rollback on its PR-AUC chart
    pr_auc = page.locator("section#timeline #timeline_pr_auc")
    assert pr_auc.locator("g.annotation").count() == 3
    assert pr_auc.locator(".shapelayer path").count() == 3
    assert "rollback v3 -> v2" in pr_auc.inner_text()
    assert page.locator("section#timeline #timeline_windows tbody tr").count() == 9
    champion = page.locator("section#overview .kpi", has_text="Champion model")
    assert "v1" in champion.inner_text()
    assert page.locator("nav a").count() == len(SECTIONS)
    _screenshots(page, shots, "populated")
    assert problems == []
    page.close()


def _figure(page, chart_id: str, expression: str):
    """``expression`` over the plotly figure ``f`` drawn in div ``chart_id``."""
    return page.evaluate(f"() => {{ const f = document.getElementById('{chart_id}'); "
                         f"return {expression}; }}")  # fmt: skip


def _day_span(page, chart_id: str) -> float:
    """The x axis range of a date-axis chart, in days."""
    return _figure(
        page,
        chart_id,
        "(Date.parse(f.layout.xaxis.range[1]) - Date.parse(f.layout.xaxis.range[0])) / 864e5",
    )


def test_charts_show_their_contents(browser, populated_site) -> None:
    page, problems = _open(browser, populated_site.as_uri())
    # bars per day sit on a day-ticked date axis, not a zoom into milliseconds
    for chart_id in ("alerts_per_day", "retraining_windows", "timeline_rows"):
        assert _figure(page, chart_id, "f.layout.xaxis.type") == "date", chart_id
        assert _figure(page, chart_id, "f.layout.xaxis.dtick") == 86_400_000, chart_id
        assert _day_span(page, chart_id) >= 2, chart_id
    assert _day_span(page, "alerts_per_day") == 2  # two days of alerts, half a day each side
    # retraining bars carry their decision's reason
    texts = _figure(page, "retraining_windows", "f.data.map(t => (t.text || []).join('|'))")
    assert any("skip: drift: 1 of the last 3 windows violated" in t for t in texts)
    # gate decisions: challenger and champion bars with values
    assert _figure(page, "models_gate_improvement", "f.data.length") == 2
    values = _figure(page, "models_gate_improvement", "f.data.flatMap(t => t.y)")
    assert any(v is not None for v in values)
    # probabilities on [0, 1]
    for chart_id in (
        "timeline_pr_auc",
        "models_leaderboard",
        "model_performance",
        "models_kind_recall",
        "models_member_weights",
    ):
        assert _figure(page, chart_id, "f.layout.yaxis.range") == [0, 1], chart_id
    # recall per anomaly kind: a bar group per kind, one bar per candidate of the latest run
    assert _figure(page, "models_kind_recall", "f.data.map(t => t.name)") == ["lightgbm", "xgboost"]
    assert _figure(page, "models_kind_recall", "f.data[0].y") == [0.9, 0.4, 0.7]
    kinds_table = page.locator("section#models table", has_text="volume_burst")
    assert kinds_table.count() >= 1
    # the ensemble members' live weights: one line per member
    members = _figure(page, "models_member_weights", "f.data.map(t => t.name)")
    assert members == ["lightgbm", "random_forest"]
    assert _figure(page, "models_member_weights", "f.data[0].y") == [0.5, 0.6, 0.7]
    assert page.locator("section#models table", has_text="random_forest").count() >= 1
    # three symbols with identical regimes: three lines, each its own colour, dash and width
    assert _figure(page, "regimes_timeline", "f.data.length") == 3
    for key in ("color", "dash", "width"):
        styles = _figure(page, "regimes_timeline", f"f.data.map(t => t.line.{key})")
        assert len(set(styles)) == 3, (key, styles)
    assert _figure(page, "regimes_timeline", "f._fullLayout.showlegend") is True
    # twelve rules, twelve colours
    colours = _figure(page, "dq_rule_failures", "f._fullData.map(t => t.marker.color)")
    assert len(colours) == 12 and len(set(colours)) == 12
    # rows per table (the 16 sample tables): sorted horizontal bars on a log axis
    assert _figure(page, "overview_table_rows", "f.layout.xaxis.type") == "log"
    assert _figure(page, "overview_table_rows", "f.data[0].orientation") == "h"
    counts = _figure(page, "overview_table_rows", "f.data[0].x")
    assert len(counts) == 16 and counts == sorted(counts, reverse=True)
    # the latest backtest: its equity after each exit, and its decisions feed
    equity = _figure(page, "decisions_equity", "f.data[0].y")
    assert equity == [1_000_000, 1_001_000, 1_000_750]
    assert page.locator("section#decisions table", has_text="exit_position reason").count() == 1
    # its confidence histogram, its exposure, and the served latency against the budgets
    assert sum(_figure(page, "decisions_confidence", "f.data[0].y")) == 6
    assert _figure(page, "decisions_exposure", "f.data[0].y") == [0, 0.5]
    names = _figure(page, "decisions_latency", "f.data.map(t => t.name)")
    assert names == ["budget", "p50", "p99"]
    assert _figure(page, "decisions_latency", "f.data[0].y") == [50, 100, 50, 200]
    # health says why; every section says what it shows
    health = page.locator("section#overview .kpi", has_text="System health").inner_text()
    assert "job medallion_pipeline_job FAILED" in health and "HIGH drift" in health
    for sid in SECTIONS:
        assert page.locator(f"section#{sid} ul.covers li").count() >= 1, sid
    assert problems == []
    page.close()


def test_narrow_screen_keeps_the_nav_off_the_content(browser, shots, populated_site) -> None:
    page, problems = _open(browser, populated_site.as_uri(), width=390, height=844)
    nav = page.locator("aside.sidebar").bounding_box()
    main = page.locator("main").bounding_box()
    first = page.locator("section#overview").bounding_box()
    assert main["x"] < 1 and main["width"] >= 380  # the content takes the width
    assert nav["y"] + nav["height"] <= first["y"]  # the bar sits above the first section
    assert nav["height"] < 80
    page.mouse.wheel(0, 3000)  # scrolled, the sticky bar still covers no section's side
    assert page.locator("aside.sidebar").bounding_box()["width"] >= 380
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(shots / "narrow_390.png"))
    assert problems == []
    page.close()


def test_empty_warehouse_shows_every_empty_state(browser, shots, tmp_path) -> None:
    from finml.config import ProjectConfig

    config = ProjectConfig(home=tmp_path / "home")
    index = export_dashboard(config, DeltaTables.from_config(config, None))
    page, problems = _open(browser, index.as_uri())
    for sid in SECTIONS[1:]:
        section = page.locator(f"section#{sid}")
        assert section.get_attribute("data-status") == "empty", sid
        empty = section.locator(f"[data-empty={sid}]")
        assert empty.is_visible(), sid
        assert "No data yet" in empty.inner_text(), sid
        assert section.locator("div.chart").count() == 0, sid
    assert page.locator("section#overview").get_attribute("data-status") == "ok"
    _screenshots(page, shots, "empty")
    assert problems == []
    page.close()


def test_served_dashboard_renders_over_http(browser, populated_site) -> None:
    server = make_server(populated_site.parent, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        page, problems = _open(browser, f"http://{host}:{port}/")
        assert page.locator("section[data-status=ok]").count() == len(SECTIONS)
        assert page.locator("svg.main-svg").count() >= len(SECTIONS)
        assert problems == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()
