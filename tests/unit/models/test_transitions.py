"""Moving registered versions by hand (audited), and MLflow runs side by side; both through
the library and through a real ``finml`` process (exit codes 0 / 1 / 2 / 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lifecycle_helpers import register_model

from finml.config import ProjectConfig
from finml.errors import DataError, ModelNotFound
from finml.models.lifecycle import version_info
from finml.models.transitions import TRANSITIONS, require_target, transition
from finml.registry import ANOMALY_MODEL, CHALLENGER, CHAMPION, model_name, set_alias
from finml.registry.runs import compare_runs
from finml.runtime.delta import DeltaTables

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def home(tmp_path: Path):
    config = ProjectConfig(home=tmp_path / "home")
    return config, DeltaTables.from_config(config, None), model_name(config, ANOMALY_MODEL)


def _audit(tables) -> list[dict]:
    return sorted(tables.table(TRANSITIONS).to_arrow().to_pylist(), key=lambda r: r["moved_at"])


def test_challenger_and_archive_move_aliases_and_tags_audited_once(home) -> None:
    config, tables, name = home
    first, second = register_model(config, "f0"), register_model(config, "f1")
    register_model(config, "f0")  # v3 takes @challenger (registration sets it)
    set_alias(config, name, CHAMPION, first)
    moved = transition(config, tables, name, second, "challenger", "try it", actor="ana")
    assert moved.decision == "DONE"
    assert CHALLENGER in version_info(config, name, second).aliases
    again = transition(config, tables, name, second, "challenger", "twice")
    assert again.decision == "UNCHANGED"  # nothing moved
    archived = transition(config, tables, name, second, "archived", "leaks the label")
    info = version_info(config, name, second)
    assert archived.decision == "DONE" and CHALLENGER not in info.aliases
    assert info.tags["finml.archived"] == "true"
    assert info.tags["finml.archived_reason"] == "leaks the label"
    back = transition(config, tables, name, second, "challenger", "fixed")
    assert back.decision == "DONE"
    assert version_info(config, name, second).tags["finml.archived"] == "false"
    audit = _audit(tables)
    assert [(r["version"], r["to_state"], r["decision"]) for r in audit] == [
        ("2", "challenger", "DONE"),
        ("2", "challenger", "UNCHANGED"),
        ("2", "archived", "DONE"),
        ("2", "challenger", "DONE"),
    ]
    assert audit[0]["actor"] == "ana" and audit[0]["aliases_before"] == ""
    assert audit[2]["aliases_before"] == "challenger"


def test_the_champion_cannot_be_archived_and_unknown_versions_are_named(home) -> None:
    config, tables, name = home
    version = register_model(config, "f0")
    set_alias(config, name, CHAMPION, version)
    with pytest.raises(DataError, match="is @champion and cannot be archived"):
        transition(config, tables, name, version, "archived", "no")
    with pytest.raises(ModelNotFound, match="version 9"):
        transition(config, tables, name, 9, "challenger", "no")
    with pytest.raises(DataError, match="unknown transition target 'prod'"):
        require_target("prod")
    with pytest.raises(DataError, match="through the gate"):
        transition(config, tables, name, version, "champion", "no")
    assert not tables.table(TRANSITIONS).exists()  # a refused move writes nothing


def test_runs_side_by_side_with_their_differences(home) -> None:
    import mlflow

    from finml import registry

    config, _, _ = home
    registry.configure(config)
    ids = []
    for lr, auc in ((0.1, 0.80), (0.2, 0.85)):
        with mlflow.start_run() as run:
            mlflow.log_params({"lr": lr, "trees": 100})
            mlflow.log_metric("pr_auc", auc)
            mlflow.set_tag("finml.candidate", "lightgbm")
            ids.append(run.info.run_id)
    found = compare_runs(config, ids)
    rows = {(r.kind, r.key): r for r in found.rows}
    assert set(rows) == {("param", "lr"), ("param", "trees"), ("metric", "pr_auc"),
                         ("tag", "finml.candidate")}  # fmt: skip
    assert rows["param", "lr"].values == ("0.1", "0.2") and rows["param", "lr"].differs
    assert not rows["param", "trees"].differs
    assert rows["metric", "pr_auc"].deltas == pytest.approx((0.0, 0.05))
    assert [(r.kind, r.key) for r in found.differing()] == [("param", "lr"), ("metric", "pr_auc")]
    assert found.as_dict(only_differences=True)["rows"][1]["values"][ids[1]] == 0.85
    with pytest.raises(ModelNotFound, match="no MLflow run 'nope'"):
        compare_runs(config, [ids[0], "nope"])
    with pytest.raises(DataError, match="two distinct"):
        compare_runs(config, [ids[0], ids[0]])


def _finml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_cli_exit_codes_of_transition_and_compare(home) -> None:
    config, tables, name = home
    version = register_model(config, "f0")
    register_model(config, "f1")  # v2: @challenger and @latest-model
    ok = _finml(config.home, "models", "transition", str(version), "--to", "challenger")
    assert ok.returncode == 0, ok.stderr
    assert f"v{version} -> challenger: DONE" in ok.stdout
    assert version_info(config, name, version).aliases == ("challenger",)
    unknown = _finml(config.home, "models", "transition", "7", "--to", "challenger")
    assert unknown.returncode == 1 and "version 7" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    usage = _finml(config.home, "models", "transition", "--to", "challenger")
    assert usage.returncode == 2  # the version argument is missing
    runs = _finml(config.home, "runs", "compare", "abc", "def", "--json")
    assert runs.returncode == 1 and "no MLflow run 'abc'" in runs.stderr
    assert [r["decision"] for r in _audit(tables)] == ["DONE"]
