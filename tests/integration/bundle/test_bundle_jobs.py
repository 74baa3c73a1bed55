"""The shipped bundle's jobs through ``finml job run`` (real spark-submit processes): retries
and upstream failures on an empty warehouse, and the audit DDL parses as Spark SQL. The
jobs' success path, ingestion included, is test_bundle_e2e.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bundle_cli import REPO, finml, job_runs

RETRY_MS = 3000  # the shipped 60 s retry interval, shortened in a copy of the bundle


def test_the_audit_ddl_parses_as_spark_sql(spark) -> None:
    from finml.bundle.ddl import render

    sql = render((REPO / "sql" / "10_audit_tables.sql").read_text(), "finml_local", "markets")
    parser = spark._jsparkSession.sessionState().sqlParser()
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    statements = [s for s in sql.split(";") if "CREATE TABLE" in s]
    assert len(statements) == 12
    for statement in statements:
        parser.parsePlan(statement)  # raises ParseException on invalid DDL


def test_retraining_on_an_empty_warehouse_retries_then_stops_its_dependents(
    tmp_path: Path,
) -> None:
    # No silver_trades: build_features fails, is retried per max_retries (1), and every task
    # depending on it is not run; the command exits 1. train_regimes (no dependencies) runs
    # and fails on its own, without stopping anything else. The bundle is the shipped one
    # with a shorter retry interval (the runner waits it for real).
    home, root = tmp_path / "home", tmp_path / "bundle"
    for name in ("resources", "scripts"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "databricks.yml", root)
    jobs = root / "resources" / "retraining.yml"
    shipped = jobs.read_text()
    assert "min_retry_interval_millis: 60000" in shipped
    jobs.write_text(shipped.replace("interval_millis: 60000", f"interval_millis: {RETRY_MS}"))
    result = finml(
        "job", "run", "retraining_workflow", "--target", "local", "--root", str(root), home=home
    )  # fmt: skip
    assert result.returncode == 1
    assert "build_features=FAILED" in result.stderr
    rows = job_runs(home)
    features = [r for r in rows if r["task"] == "build_features"]
    assert [(r["attempt"], r["state"]) for r in features] == [(1, "FAILED"), (2, "FAILED")]
    assert (features[1]["start_time"] - features[0]["end_time"]).total_seconds() >= RETRY_MS / 1e3
    assert "silver_trades" in Path(features[0]["logs_path"]).read_text()
    skipped = {r["task"]: (r["attempt"], r["state"]) for r in rows if r["attempt"] == 0}
    assert skipped == {
        "train_tournament": (0, "UPSTREAM_FAILED"),
        "deploy_gate": (0, "UPSTREAM_FAILED"),
        "deploy_champion": (0, "UPSTREAM_FAILED"),
    }
    # Each task that failed for good raised one ERROR alert naming it and its error; the
    # tasks skipped because of it raised none.
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=home), None)
    alerts = tables.table("alerts").to_arrow().to_pylist()
    errors = {a["title"]: a for a in alerts if a["alert_type"] == "ERROR"}
    assert sorted(errors) == [
        "job retraining_workflow: task build_features FAILED",
        "job retraining_workflow: task train_regimes FAILED",
    ]
    features_alert = errors["job retraining_workflow: task build_features FAILED"]
    assert features_alert["severity"] == "HIGH"
    assert "silver_trades: expected it to exist" in features_alert["message"]
    assert json.loads(features_alert["details"])["attempts"] == 2
