"""``finml bundle validate`` / ``finml job list`` / ``finml job run`` argument handling
(no Spark; the runs themselves are integration tests)."""

from __future__ import annotations

import json
from pathlib import Path

from bundle_app import bundle_app as app
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[3]


def test_validate_passes_on_the_repository_bundle() -> None:
    result = CliRunner().invoke(app(), ["bundle", "validate", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "7 jobs, 1 pipelines, 1 serving endpoints, valid" in result.output


def test_validate_lists_every_problem_and_exits_one(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        tasks = job["resources"]["jobs"]["tiny_job"]["tasks"]
        tasks[0]["bogus"] = 1
        tasks[1]["spark_python_task"]["python_file"] = "../scripts/missing.py"

    result = CliRunner().invoke(
        app(), ["bundle", "validate", "--root", str(make_bundle(edit)), "--json"]
    )
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert [(p["file"], p["key"]) for p in problems] == [
        ("resources/tiny.yml", "resources.jobs.tiny_job.tasks[0].bogus"),
    ] or {p["key"] for p in problems} >= {"resources.jobs.tiny_job.tasks[0].bogus"}


def test_job_list_shows_tasks_in_yaml_order() -> None:
    result = CliRunner().invoke(app(), ["job", "list", "--root", str(REPO), "--json"])
    assert result.exit_code == 0, result.output
    jobs = {row["job"]: row for row in json.loads(result.stdout)}
    assert jobs["ingestion_workflow"]["tasks"] == ["collect", "medallion", "features"]
    assert jobs["retraining_workflow"]["tasks"][:3] == [
        "build_features",
        "train_regimes",
        "train_tournament",
    ]
    assert jobs["drift_monitoring_workflow"]["schedule"] == "0 0/30 * * * ?"


def test_job_run_rejects_an_unknown_job_and_a_bad_var_before_running(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_var = runner.invoke(
        app(), ["job", "run", "ingestion_workflow", "--root", str(REPO), "--var", "x"]
    )
    assert bad_var.exit_code == 2
    unknown = runner.invoke(app(), ["job", "run", "nope", "--root", str(REPO)])
    assert unknown.exit_code != 0
    assert "job 'nope': expected one of" in str(unknown.exception)


def test_every_command_has_an_example() -> None:
    runner = CliRunner()
    for args in (["job", "run"], ["job", "list"], ["job", "runs"], ["bundle", "validate"]):
        result = runner.invoke(app(), [*args, "--help"])
        assert result.exit_code == 0
        assert "Example: finml" in result.output


def test_job_runs_lists_rows_of_the_job_runs_table(tmp_path: Path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from finml.bundle.runs import TaskAttempt, record
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    monkeypatch.setenv("FINML_HOME", str(tmp_path))
    tables = DeltaTables.from_config(ProjectConfig(home=tmp_path), None)
    now = datetime.now(UTC)
    for attempt, state in ((1, "FAILED"), (2, "SUCCESS")):
        record(
            tables,
            TaskAttempt("r1", "j", "t", attempt, state, now, now, 0.5, 0, None, "local", "abc"),
        )
    result = CliRunner().invoke(app(), ["job", "runs", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["attempt"], r["state"]) for r in rows] == [(2, "SUCCESS"), (1, "FAILED")]
    assert (
        json.loads(CliRunner().invoke(app(), ["job", "runs", "--job", "x", "--json"]).stdout) == []
    )
