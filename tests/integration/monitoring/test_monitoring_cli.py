"""``drift`` / ``alerts`` / ``monitor`` as real processes: exit codes, output, Delta rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("monitoring_cli_app.py")


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINML_HOME": str(home), "COLUMNS": "200", "FINML_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, str(APP), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_help_starts_no_jvm(tmp_path: Path) -> None:
    for command in ("drift", "monitor", "alerts"):
        done = _run(tmp_path, command, "--help")
        assert done.returncode == 0, done.stderr
        assert "Example:" in done.stdout


def test_drift_scenario_then_alerts(tmp_path: Path) -> None:
    done = _run(tmp_path, "drift", "--scenario", "--days", "14", "--drift-day", "9")
    assert done.returncode == 0, done.stderr
    assert "HIGH" in done.stdout and "alerts raised:" in done.stdout
    listed = _run(tmp_path, "alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and {r["alert_type"] for r in rows} == {"DRIFT"}
    assert {r["status"] for r in rows} == {"recorded"}  # no webhook configured
    assert (tmp_path / "warehouse" / "finml_local" / "markets" / "drift_monitoring").is_dir()


def test_bad_usage_is_a_clear_error(tmp_path: Path) -> None:
    done = _run(tmp_path, "drift")
    assert done.returncode == 2
    assert "expected either --scenario or --reference and --current" in done.stderr
