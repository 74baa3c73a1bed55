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
    "drift",
    "alerts",
    "models",
    "retraining",
    "job_runs",
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


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
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
