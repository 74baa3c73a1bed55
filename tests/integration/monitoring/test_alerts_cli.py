"""``finml alerts list|ack`` as real processes: acknowledge once, twice (nothing changes), an
unknown id (exit 1, one line), no id (usage, exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finml.config import ProjectConfig
from finml.monitoring.alerts import Alert, AlertManager
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

REPO = Path(__file__).resolve().parents[3]


def finml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    env |= {"COLUMNS": "250", "FINML_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    tables = DeltaTables.from_config(ProjectConfig(home=tmp_path), None)
    manager = AlertManager(None, tables)
    for title in ("psi 0.41 on log_return", "job x: task y FAILED"):
        manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, title))
    return tmp_path


def test_ack_then_list_unacked(home: Path) -> None:
    listed = finml(home, "alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"recorded"}
    alert_id = next(r["alert_id"] for r in rows if r["title"].startswith("psi"))

    done = finml(home, "alerts", "ack", alert_id, "--by", "alice", "--note", "retraining")
    assert done.returncode == 0, done.stderr
    assert f"acknowledged {alert_id} by alice" in done.stdout
    again = finml(home, "alerts", "ack", alert_id, "--by", "bob")
    assert again.returncode == 0, again.stderr
    assert "already acknowledged by alice" in again.stdout

    unacked = json.loads(finml(home, "alerts", "list", "--unacked", "--json").stdout)
    assert [r["title"] for r in unacked] == ["job x: task y FAILED"]
    everything = json.loads(finml(home, "alerts", "--json").stdout)  # the old spelling
    acks = [r for r in everything if r["status"] == "acknowledged"]
    assert [(r["alert_id"], r["acknowledged_by"], r["ack_note"]) for r in acks] == [
        (alert_id, "alice", "retraining")
    ]
    table = finml(home, "alerts", "list")
    assert table.returncode == 0 and "by alice: retraining" in table.stdout


def test_unknown_id_is_one_line_exit_1_and_no_id_is_usage(home: Path) -> None:
    done = finml(home, "alerts", "ack", "deadbeef")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: alert 'deadbeef': expected the id of an alert in table 'alerts', found none "
        "(see finml alerts list)"
    ]
    usage = finml(home, "alerts", "ack")
    assert usage.returncode == 2 and "Missing argument" in usage.stderr
