"""The ``finml`` command as a real process: exit codes, output and --help examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    "info", "tables", "history", "demo", "simulate", "ingest", "pipeline run",
    "collect finnhub", "collect alphavantage", "features build", "regimes", "train",
    "promote", "rollback", "models", "serve", "score", "ab-report", "drift", "monitor",
    "alerts", "dashboard export", "dashboard serve", "job run", "job list", "bundle validate",
]  # fmt: skip
# The README's first command on a smaller market: every stage, a few minutes in CI.
SMALL_DEMO = """
project: finml
environments:
  local:
    catalog: finml_local
simulator:
  days: 12
  trades_per_day: 700
"""


def finml(*args: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str, tmp_path: Path) -> None:
    result = finml(*command.split(), "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Example: finml" in result.stdout


def test_info_names_the_delta_engine_and_paths(tmp_path: Path) -> None:
    result = finml("info", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["delta_engine"] == "delta-rs"
    assert info["warehouse"] == str(tmp_path / "warehouse")
    assert info["catalog"] == "finml_local"


def test_demo_then_tables_and_history_exit_zero(tmp_path: Path) -> None:
    config = tmp_path / "project_config.yml"
    config.write_text(SMALL_DEMO)
    demo = finml("--config", str(config), "demo", home=tmp_path, timeout=1200)
    assert demo.returncode == 0, demo.stderr[-3000:]
    for stage in ("Reconciliation", "Tournament", "spectral gap", "drift check", "monitoring"):
        assert stage in demo.stdout, f"demo output lacks {stage!r}"
    index = tmp_path / "dashboard" / "index.html"
    assert f"file://{index}" in demo.stdout.replace("\n", "") and index.is_file()
    listing = finml("tables", "--json", home=tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = {row["table"]: row for row in json.loads(listing.stdout)}
    assert rows, "the demo wrote no table"
    name = next(iter(rows))
    history = finml("history", name, "--json", home=tmp_path)
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)[0]["version"] == rows[name]["version"]


def test_errors_are_one_line_and_exit_non_zero(tmp_path: Path) -> None:
    missing = finml("history", "no_such_table", home=tmp_path)
    assert missing.returncode == 1
    assert "error: table finml_local.markets.no_such_table" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_name = finml("history", "x;drop", home=tmp_path)
    assert bad_name.returncode == 1 and "expected 1-128 characters" in bad_name.stderr
    bad_env = finml("--env", "nowhere", "info", home=tmp_path)
    assert bad_env.returncode == 1 and "environment 'nowhere' is not defined" in bad_env.stderr
