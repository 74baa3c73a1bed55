"""``finml train / models / promote / rollback`` as real processes on a temp home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finml.models.synthetic import train_test

REPO = Path(__file__).resolve().parents[3]
# Registers this module's commands unless the root app already does (once wired in).
MAIN = (
    "from finml.cli import app, main\n"
    "from finml.cli import models\n"
    "if not any(c.name == 'train' or getattr(c.callback, '__name__', '') == 'train'\n"
    "           for c in app.registered_commands):\n"
    "    models.register(app)\n"
    "main()\n"
)


def finml(*args: str, home: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    # mlflow.set_tracking_uri (run by earlier in-process tests) exports MLFLOW_TRACKING_URI,
    # which the config honours: drop it so the process uses the store under FINML_HOME
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"FINML_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", ["train", "promote", "rollback", "models"])
def test_help_has_an_example(command: str, tmp_path: Path) -> None:
    result = finml(command, "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Example: finml {command}" in result.stdout


def test_train_models_promote_rollback(tmp_path: Path, sets) -> None:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    home = tmp_path / "home"
    config = ProjectConfig.load(REPO / "project_config.yml")
    config = config.model_copy(update={"home": home})
    train, test = train_test(3000, seed=9)
    sets.write(DeltaTables.from_config(config, None), train, test)

    trained = finml("train", "--candidates", "lightgbm,xgboost", "--json", home=home)
    assert trained.returncode == 0, trained.stderr[-3000:]
    payload = json.loads(trained.stdout)
    assert payload["decision"] == "PROMOTE", payload["reasons"]
    assert payload["version"] == 1
    assert [r["candidate"] for r in payload["leaderboard"]][-1] == "zscore_rule"

    listed = finml("models", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    # @challenger stays on the last challenger, also once it is the champion
    assert row["aliases"] == ["challenger", "champion", "latest-model"]
    assert row["rolled_back"] is False and "stage" not in row  # aliases only
    assert float(row["pr_auc"]) > 0.5

    again = finml("promote", "--version", "1", home=home)
    assert again.returncode == 3 and "REJECT v1" in again.stdout
    assert "already the champion" in again.stdout

    nothing = finml("rollback", "--reason", "test", home=home)
    assert nothing.returncode == 1
    assert nothing.stderr.count("\n") <= 2 and "previous-champion" in nothing.stderr
