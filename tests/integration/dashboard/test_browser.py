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


TABLES_ONLY = {"settings"}  # key -> value tables, no chart


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
        assert charts.count() >= (0 if sid in TABLES_ONLY else 1), sid
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
    assert len(counts) == 21 and counts == sorted(counts, reverse=True)
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
    for sid in SECTIONS[1:-1]:  # the overview and the settings always have content
        section = page.locator(f"section#{sid}")
        assert section.get_attribute("data-status") == "empty", sid
        empty = section.locator(f"[data-empty={sid}]")
        assert empty.is_visible(), sid
        assert "No data yet" in empty.inner_text(), sid
        assert section.locator("div.chart").count() == 0, sid
    assert page.locator("section#overview").get_attribute("data-status") == "ok"
    assert page.locator("section#settings").get_attribute("data-status") == "ok"
    assert page.locator("section#settings #settings_config tbody tr").count() > 100
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


def _visible_cells(page, table_id: str, column: str) -> list[str]:
    """The ``column`` cells of the rows of table ``table_id`` that are shown."""
    headers = page.locator(f"#{table_id} thead th").all_inner_texts()
    at = headers.index(column)
    rows = page.locator(f"#{table_id} tbody tr:visible")
    return [rows.nth(i).locator("td").nth(at).inner_text() for i in range(rows.count())]


def test_issue_24_sections_render_their_contents(browser, shots, populated_site) -> None:
    page, problems = _open(browser, populated_site.as_uri())
    # EDA: correlation heatmaps on a diverging -1..1 scale, stationarity, missingness
    for chart_id in ("eda_pearson_trade_features", "eda_spearman_trade_features"):
        assert _figure(page, chart_id, "[f.data[0].zmin, f.data[0].zmax]") == [-1, 1], chart_id
    assert _figure(page, "eda_pearson_trade_features", "f.data[0].z[0][1]") == 0.9
    assert page.locator("#eda_stationarity tbody tr").count() == 6
    assert "unit root" in page.locator("#eda_stationarity").inner_text()
    assert _visible_cells(page, "eda_missing", "column_name") == ["price", "vol_5m"]
    assert _figure(page, "eda_intraday_volume", "f.data.map(t => t.name)") == [
        "AAPL",
        "MSFT",
        "SPY",
    ]
    # anomalies: the newest flagged trade first, with its model version and features
    first = page.locator("#anomalies_feed tbody tr").first.inner_text()
    assert "s8_0" in first and "serving challenger" in first and "0.08" in first
    assert page.locator("#anomalies_feed tbody tr").count() == 29
    # model metrics: the champion (v1, registered in MLflow) is tournament t0's lightgbm
    assert _figure(page, "metrics_pr_curve", "f.data[0].x") == [0.3, 0.6, 0.9]
    assert _figure(page, "metrics_pr_curve", "f.layout.xaxis.range") == [0, 1]
    assert (
        "champion v1 (lightgbm, tournament t0)"
        in page.locator("section#model_metrics", has_text="Holdout PR curve").inner_text()
    )
    assert _figure(page, "metrics_feature_importance", "f.data[0].y") == ["ret_1m", "vol_5m"]
    assert _figure(page, "metrics_windows", "f.data.map(t => t.name)") == [
        "precision",
        "recall",
        "f1",
    ]
    assert page.locator("#metrics_importance_versions tbody tr").count() == 3
    # serving: latency percentiles, throughput and the error rate that is not recorded
    serving = page.locator("section#serving")
    assert "10.91" in serving.locator(".kpi", has_text="Latency p99").inner_text()
    assert "0.1" in serving.locator(".kpi", has_text="Throughput").inner_text()
    error = serving.locator(".kpi", has_text="Error rate").inner_text()
    assert "not recorded" in error and "no status or error column" in error
    assert _figure(page, "serving_requests", "f.data[0].y") == [6, 4]
    # settings: the active configuration and the versions
    config = page.locator("#settings_config").inner_text()
    assert "dashboard.port" in config and "8050" in config
    assert "mlflow" in page.locator("#settings_versions").inner_text()
    for sid in ("eda", "anomalies", "model_metrics", "serving", "settings"):
        page.locator(f"section#{sid}").screenshot(path=str(shots / f"issue24_{sid}.png"))
    assert problems == []
    page.close()


def test_filters_by_symbol_and_date_range(browser, shots, populated_site) -> None:
    page, problems = _open(browser, populated_site.as_uri())
    options = page.locator("#filter-symbol option").all_inner_texts()
    assert options[0] == "all symbols" and {"AAPL", "MSFT", "SPY", "AAA"} <= set(options)
    # a symbol: the anomalies feed keeps that symbol's trades only (2 a day for 6 days)
    page.select_option("#filter-symbol", "MSFT")
    symbols = _visible_cells(page, "anomalies_feed", "symbol")
    assert symbols == ["MSFT"] * 12
    assert "(12 of 29)" in page.locator("#anomalies_feed h3").inner_text()
    assert _figure(page, "regimes_timeline", "f.data.map(t => t.name)") == ["MSFT"]
    assert _figure(page, "eda_intraday_volume", "f.data.map(t => t.name)") == ["MSFT"]
    assert set(_visible_cells(page, "eda_stationarity", "symbol")) == {"MSFT"}
    assert _visible_cells(page, "decisions_feed", "symbol") == []  # the backtest trades AAA
    page.screenshot(path=str(shots / "filter_symbol.png"), full_page=False)
    # a date range: the rows and points outside it disappear
    page.select_option("#filter-symbol", "")
    page.fill("#filter-from", "2026-03-01")
    page.fill("#filter-to", "2026-03-01")
    days = {t[:10] for t in _visible_cells(page, "anomalies_feed", "ts")}
    assert days == {"2026-03-01"}
    assert len(_visible_cells(page, "anomalies_feed", "ts")) == 4  # that day's batch flags
    assert _figure(page, "anomalies_per_day", "f.data[0].x") == ["2026-03-01"]
    alerts = _visible_cells(page, "alerts_feed", "created_at")
    assert alerts and all(t.startswith("2026-03-01") for t in alerts)
    assert _visible_cells(page, "metrics_windows_table", "window") == ["2026-03-01"]
    # reset shows everything again
    page.click("#filter-reset")
    assert page.locator("#anomalies_feed tbody tr:visible").count() == 29
    assert _figure(page, "regimes_timeline", "f.data.length") == 3
    assert problems == []
    page.close()
