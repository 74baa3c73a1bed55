"""The shipped bundle's jobs run locally end to end through ``finml job run`` (real
spark-submit processes, a real warehouse), and the audit DDL parses as Spark SQL."""

from __future__ import annotations

import shutil
from pathlib import Path

from bundle_cli import REPO, finml, job_runs

RETRY_MS = 3000  # the shipped 60 s retry interval, shortened in a copy of the bundle


def test_ingestion_workflow_runs_collect_then_medallion(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = finml(
        "job", "run", "ingestion_workflow", "--target", "local",
        "--var", "sim_days=2", "--var", "sim_trades_per_day=100", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job ingestion_workflow succeeded" in result.stdout
    rows = job_runs(home)
    assert [(r["task"], r["attempt"], r["state"]) for r in rows] == [
        ("collect", 1, "SUCCESS"),
        ("medallion", 1, "SUCCESS"),
    ]
    assert rows[1]["start_time"] >= rows[0]["end_time"]  # depends_on order
    assert all(r["git_commit"] and r["target"] == "local" for r in rows)

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(ProjectConfig(home=home), None)
    silver = tables.table("silver_trades").count()
    assert silver > 0
    # The task values the scripts published reached the runner's files.
    values = Path(rows[1]["logs_path"]).parent / "medallion.values.json"
    assert f'"silver_trades": {silver}' in values.read_text()


def test_the_audit_ddl_parses_as_spark_sql(spark) -> None:
    from finml.bundle.ddl import render

    sql = render((REPO / "sql" / "10_audit_tables.sql").read_text(), "finml_local", "markets")
    parser = spark._jsparkSession.sessionState().sqlParser()
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    statements = [s for s in sql.split(";") if "CREATE TABLE" in s]
    assert len(statements) == 11
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
