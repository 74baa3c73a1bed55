"""Every job in resources/ run locally, end to end, on one fresh warehouse, in the order an
operator would: ingestion -> retraining (leaves a champion) -> batch inference -> drift
monitoring -> rollback -> dashboard export. Each task is a real spark-submit process.

Minutes, not seconds (JVM start per task, a model tournament): one module-scoped run, many
assertions. FINML_E2E_DAYS / FINML_E2E_TRADES size the simulated market.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from bundle_cli import REPO, finml, job_runs

DAYS = os.environ.get("FINML_E2E_DAYS", "8")
TRADES = os.environ.get("FINML_E2E_TRADES", "400")
pytestmark = pytest.mark.timeout(3600)


REQUESTED = "retrain requested"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("e2e_home")
    # The project's config, but a retrain the trigger starts only says so (a second
    # training run is the replay's business, tests/integration/jobs/test_replay.py).
    config = yaml.safe_load((REPO / "project_config.yml").read_text())
    action = {"command": [sys.executable, "-c", f"print({REQUESTED!r})"]}
    config["monitoring"] = {**(config.get("monitoring") or {}), "action": action}
    config_file = home / "project_config.yml"
    config_file.write_text(yaml.safe_dump(config))
    results = {}
    for job, extra in (
        (
            "ingestion_workflow",
            ["--var", f"sim_days={DAYS}", "--var", f"sim_trades_per_day={TRADES}"],
        ),
        ("retraining_workflow", ["--var", "tuning_trials=3"]),  # a study, kept short
        ("batch_inference_job", []),
        ("drift_monitoring_workflow", []),
        ("rollback_job", []),
    ):
        results[job] = finml(
            "job", "run", job, "--target", "local", *extra, home=home, timeout=3000,
            config=config_file,
        )  # fmt: skip
    return {"home": home, "results": results, "rows": job_runs(home)}


def states(warehouse: dict, job: str) -> dict[str, str]:
    final: dict[str, str] = {}
    for row in warehouse["rows"]:
        if row["job"] == job:
            final[row["task"]] = row["state"]  # rows are in time order: last attempt wins
    return final


def test_ingestion_runs_collect_then_medallion_and_publishes_task_values(
    warehouse: dict,
) -> None:
    result = warehouse["results"]["ingestion_workflow"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job ingestion_workflow succeeded" in result.stdout
    rows = [r for r in warehouse["rows"] if r["job"] == "ingestion_workflow"]
    assert [(r["task"], r["attempt"], r["state"]) for r in rows] == [
        ("collect", 1, "SUCCESS"),
        ("medallion", 1, "SUCCESS"),
        ("features", 1, "SUCCESS"),
    ]
    assert rows[1]["start_time"] >= rows[0]["end_time"]  # depends_on order
    assert all(r["git_commit"] and r["target"] == "local" for r in rows)
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=warehouse["home"]), None)
    silver = tables.table("silver_trades").count()
    assert silver > 0
    # The features task brought the feature store and the labels up to date with silver.
    assert tables.table("trade_features").count() == silver
    assert tables.table("trade_labels").count() == silver
    # The task values the medallion script published reached the runner's files (silver
    # has grown since only if a later job appended to it, which none does).
    values = Path(rows[1]["logs_path"]).parent / "medallion.values.json"
    assert f'"silver_trades": {silver}' in values.read_text()


def test_ingestion_then_retraining_leave_a_champion(warehouse: dict) -> None:
    for job in ("ingestion_workflow", "retraining_workflow"):
        result = warehouse["results"][job]
        assert result.returncode == 0, f"{job}: {result.stderr[-3000:]}"
    assert states(warehouse, "retraining_workflow") == {
        "build_features": "SUCCESS",
        "train_regimes": "SUCCESS",
        "train_tournament": "SUCCESS",
        "deploy_gate": "SUCCESS",
        "deploy_champion": "SUCCESS",
    }
    from finml.config import ProjectConfig
    from finml.registry import by_alias, configure, model_name

    config = ProjectConfig(home=warehouse["home"])
    configure(config)
    champion = by_alias(config, model_name(config, "anomaly_model"), "champion")
    assert champion is not None
    gate = next(r for r in warehouse["rows"] if r["task"] == "deploy_gate")
    assert gate["message"] == "'PROMOTE' EQUAL_TO 'PROMOTE' -> true"
    _optuna_trials_are_nested_runs()


def _optuna_trials_are_nested_runs() -> None:
    """The retraining job tunes (bundle variable ``tuning_trials``): a study run under the
    tournament run, and each of its trials a run nested under the study."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    studies = client.search_runs(experiments, filter_string="tags.`finml.study` = 'optuna'")
    assert len(studies) == 1, studies
    study = studies[0]
    tournament = client.get_run(study.data.tags["mlflow.parentRunId"])
    assert tournament.info.run_name == "tournament"
    trials = client.search_runs(
        experiments, filter_string=f"tags.mlflow.parentRunId = '{study.info.run_id}'"
    )
    assert len(trials) == int(study.data.metrics["trials"]) >= 1
    assert {t.data.tags["finml.trial_state"] for t in trials} <= {"COMPLETE", "PRUNED"}
    assert any(t.data.tags["finml.pareto"] == "true" for t in trials)


def test_batch_inference_scores_every_new_trade_once_with_the_champion(warehouse: dict) -> None:
    result = warehouse["results"]["batch_inference_job"]
    assert result.returncode == 0, result.stderr[-3000:]
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=warehouse["home"]), None)
    predictions = tables.table("predictions").to_arrow()
    assert set(predictions.column("model_version").to_pylist()) == {"1"}
    # deploy_champion scored the holdout; the scheduled job then scored every other trade.
    trades = set(predictions.column("trade_id").to_pylist())
    assert len(trades) == predictions.num_rows == tables.table("trade_features").count()


def test_drift_monitoring_runs_drift_trigger_and_alert(warehouse: dict) -> None:
    result = warehouse["results"]["drift_monitoring_workflow"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert states(warehouse, "drift_monitoring_workflow") == {
        "drift": "SUCCESS",
        "performance": "SUCCESS",
        "rollback_check": "SUCCESS",
        "retrain_trigger": "SUCCESS",
        "alert": "SUCCESS",
    }
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=warehouse["home"]), None)
    # The champion was trained and held out on every simulated day, so none of them is
    # production (its finml.live_from is the end of its holdout): drift checks no window and
    # the trigger decides on none, while performance measures each day it scored, once.
    monitored = tables.table("model_monitoring").to_arrow().to_pylist()
    assert len(monitored) == len({r["window"]["start"] for r in monitored}) == int(DAYS)
    assert {r["model_version"] for r in monitored} == {"1"}
    for name in ("drift_monitoring", "retraining_audit"):
        table = tables.table(name)
        assert not table.exists() or table.count() == 0, name


def test_rollback_without_a_previous_champion_fails_with_a_clear_message(warehouse: dict) -> None:
    # One training run: there is no previous champion to return to, so the job must fail
    # (exit 1) and say why in the task's log, leaving the champion where it was.
    result = warehouse["results"]["rollback_job"]
    assert result.returncode == 1
    (row,) = [r for r in warehouse["rows"] if r["job"] == "rollback_job"]
    assert row["state"] == "FAILED"
    assert "previous" in Path(row["logs_path"]).read_text().lower()


def test_dashboard_export_writes_the_site(warehouse: dict) -> None:
    result = finml(
        "job", "run", "dashboard_export_job", "--target", "local", home=warehouse["home"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [r for r in job_runs(warehouse["home"]) if r["job"] == "dashboard_export_job"]
    assert {r["task"]: r["state"] for r in rows} == {"eda": "SUCCESS", "export": "SUCCESS"}
    (eda,) = [r for r in rows if r["task"] == "eda"]
    profiled = json.loads((Path(eda["logs_path"]).parent / "eda.values.json").read_text())
    assert profiled["profiled"] >= 5 and profiled["rows"] > 0, profiled
    (export,) = [r for r in rows if r["task"] == "export"]
    values = Path(export["logs_path"]).parent / "export.values.json"
    index = Path(json.loads(values.read_text())["index"])
    assert index.name == "index.html" and index.is_file()
