"""``monitor`` and ``alerts`` commands in-process on the session's Spark and a temp warehouse."""

from __future__ import annotations

import json

import typer
from test_monitoring_performance import _scored
from typer.testing import CliRunner

from finml.cli.common import State
from finml.cli.monitoring import register


def test_monitor_dry_run_writes_metrics_and_audit(config, spark, tables) -> None:
    scored, labels = _scored()
    tables.table("predictions").append(spark.createDataFrame(scored))
    tables.table("test_set").append(spark.createDataFrame(labels))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    state = State(_config=config, _spark=spark)
    done = runner.invoke(
        app,
        ["monitor", "--source", "predictions", "--labels", "test_set", "--dry-run",
         "--baseline-pr-auc", "0.99"],
        obj=state,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "monitoring: 2 window(s)" in done.output and "pr_auc=" in done.output
    audit = tables.table("retraining_audit").to_arrow().to_pylist()
    assert len(audit) == 2 and {r["action_status"] for r in audit} == {"not_run"}
    assert tables.table("model_monitoring").count() == 2
    listed = runner.invoke(app, ["alerts", "--json"], obj=state)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["alert_type"] for r in rows} == {"PERFORMANCE"}  # pr_auc far below 0.99
