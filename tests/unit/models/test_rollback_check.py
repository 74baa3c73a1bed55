"""The automatic rollback check on a real MLflow store and real Delta tables: a champion whose
first live windows fall below its predecessor is rolled back (audited, alerted) exactly once; a
good one passes and is not checked again; missing windows change nothing; windows before the
champion went live do not count."""

from __future__ import annotations

import json
import runpy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lifecycle_helpers import monitoring, register_model

from finml.config import ProjectConfig
from finml.errors import ConfigError
from finml.jobs.training import promote_manual
from finml.models.lifecycle import promote_tagged
from finml.models.rollback_check import check_rollback
from finml.models.settings import ModelSettings, RollbackPolicy
from finml.monitoring.alerts import AlertManager
from finml.registry import ANOMALY_MODEL, CHAMPION, PREVIOUS, by_alias, model_name
from finml.runtime.delta import DeltaTables

POLICY = RollbackPolicy(windows=2, violations=1, margin=0.05, min_labelled=50)
LIVE = datetime(2026, 3, 3, tzinfo=UTC)
D = {day: date(2026, 3, day) for day in range(1, 8)}


@pytest.fixture
def promoted(tmp_path: Path):
    """v1 champion (live on days 1-2 at PR-AUC 0.80), v2 promoted manually, live from day 3."""
    config = ProjectConfig(home=tmp_path / "home")
    tables = DeltaTables.from_config(config, None)
    name = model_name(config, ANOMALY_MODEL)
    v1 = register_model(config, "f0", pr_auc=0.78)
    promote_tagged(config, name, v1, event_id="first", kind="gate")
    v2 = register_model(config, "f1", pr_auc=0.76)
    promote_manual(config, tables, v2, "bad-model day", live_from=LIVE)
    monitoring(tables, name, v1, {D[1]: 0.82, D[2]: 0.78})
    return config, tables, name, v1, v2


def _rows(tables, table: str) -> list[dict]:
    return tables.table(table).to_arrow().to_pylist() if tables.table(table).exists() else []


def test_a_bad_champion_is_rolled_back_in_its_first_windows_once(promoted) -> None:
    config, tables, name, v1, v2 = promoted
    monitoring(tables, name, v2, {D[1]: 0.05})  # scored before it went live: not counted
    pending = check_rollback(config, tables, policy=POLICY)
    assert pending.status == "pending" and not pending.rolled_back
    assert pending.predecessor_level == pytest.approx(0.80)  # v1's live mean, not its tag
    assert pending.predecessor_source == "live"

    monitoring(tables, name, v2, {D[3]: 0.62, D[4]: 0.79})  # day 3: 0.18 below the level
    check = check_rollback(config, tables, policy=POLICY)
    assert check.status == "rolled_back" and check.rolled_back
    assert [w.violated for w in check.windows] == [True, False]
    assert by_alias(config, name, CHAMPION).version == v1
    (audit,) = _rows(tables, "rollback_audit")
    assert (audit["from_version"], audit["to_version"]) == (str(v2), str(v1))
    assert "2026-03-03 00:00 PR-AUC 0.6200 (violated)" in audit["reason"]
    assert "level 0.8000" in audit["reason"] and "1 of its first 2 windows" in audit["reason"]
    (alert,) = _rows(tables, "alerts")
    assert alert["alert_type"] == "PERFORMANCE" and alert["severity"] == "HIGH"
    assert json.loads(alert["details"])["rollback_event_id"] == audit["event_id"]
    assert by_alias(config, name, CHAMPION).tags["finml.rollback_check"] == "restored"

    again = check_rollback(config, tables, policy=POLICY)  # idempotent
    assert again.status == "skipped" and not again.rolled_back
    assert len(_rows(tables, "rollback_audit")) == 1 and len(_rows(tables, "alerts")) == 1

    # re-promoting the rolled-back version by hand: it is never checked again
    promote_manual(config, tables, v2, "second try", live_from=LIVE)
    assert check_rollback(config, tables, policy=POLICY).status == "skipped"
    assert len(_rows(tables, "rollback_audit")) == 1


def test_a_good_champion_passes_and_is_not_checked_again(promoted) -> None:
    config, tables, name, _v1, v2 = promoted
    monitoring(tables, name, v2, {D[3]: 0.79})
    assert check_rollback(config, tables, policy=POLICY).status == "pending"
    monitoring(tables, name, v2, {D[4]: 0.81})
    check = check_rollback(config, tables, policy=POLICY)
    assert check.status == "passed" and not check.rolled_back
    assert by_alias(config, name, CHAMPION).tags["finml.rollback_check"] == "passed"
    monitoring(tables, name, v2, {D[5]: 0.10})  # later windows are the trigger's business
    assert check_rollback(config, tables, policy=POLICY).status == "skipped"
    assert by_alias(config, name, CHAMPION).version == v2
    assert not _rows(tables, "rollback_audit") and not _rows(tables, "alerts")


def test_own_baseline_and_registration_tag_are_references_too(promoted) -> None:
    config, tables, name, _v1, v2 = promoted
    tables.table("model_monitoring").drop()  # no live history: v1's tag 0.78 is the level
    monitoring(tables, name, v2, {D[3]: 0.75, D[4]: 0.74})
    check = check_rollback(config, tables, policy=POLICY)
    assert check.status == "passed" and check.predecessor_source == "registration"
    assert check.predecessor_level == pytest.approx(0.78)


def test_without_windows_or_previous_nothing_happens(tmp_path: Path) -> None:
    config = ProjectConfig(home=tmp_path / "home")
    tables = DeltaTables.from_config(config, None)
    assert check_rollback(config, tables, policy=POLICY).status == "skipped"  # no champion
    name = model_name(config, ANOMALY_MODEL)
    v1 = register_model(config, "f0")
    promote_tagged(config, name, v1, event_id="first", kind="gate")
    check = check_rollback(config, tables, policy=POLICY)
    assert check.status == "skipped" and "no previous champion" in check.reason
    assert by_alias(config, name, PREVIOUS) is None


def test_the_script_publishes_task_values(promoted, tmp_path, monkeypatch) -> None:
    config, tables, name, v1, v2 = promoted
    monitoring(tables, name, v2, {D[3]: 0.40})
    values = tmp_path / "values.json"
    monkeypatch.setenv("FINML_HOME", str(config.home))
    monkeypatch.setenv("FINML_TASK_VALUES_FILE", str(values))
    monkeypatch.delenv("FINML_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no project file here: the defaults, state in $FINML_HOME
    script = Path(__file__).resolve().parents[3] / "scripts" / "rollback_check.py"
    main = runpy.run_path(str(script))["main"]
    main(["--catalog", config.catalog, "--schema", config.db_schema, "--env", "local"])
    assert json.loads(values.read_text()) == {
        "rolled_back": "true",
        "status": "rolled_back",
        "champion_version": str(v1),
    }
    main(["--catalog", config.catalog, "--schema", config.db_schema, "--env", "local"])
    assert json.loads(values.read_text())["rolled_back"] == "false"


def test_policy_is_validated_at_construction() -> None:
    class Config:
        models = {"rollback": {"windows": 2, "violations": 3}}

    with pytest.raises(ConfigError, match=r"models\.rollback.*violations <= windows"):
        ModelSettings.from_config(Config())


def test_alert_manager_is_injectable(promoted) -> None:
    config, tables, name, _v1, v2 = promoted
    monitoring(tables, name, v2, {D[3]: 0.40})
    manager = AlertManager(tables=None)  # alerts kept in memory only
    check = check_rollback(config, tables, policy=POLICY, alerts=manager)
    assert check.rolled_back and manager.records[0]["status"] == "recorded"
    assert not _rows(tables, "alerts")
