"""The gate end to end on a real MLflow store and real Delta audit tables: a weak first model
is auto-promoted, a worse challenger rejected, a better one promoted, and rollback restores the
previous champion — visible in the audit tables and through the MLflow client."""

from __future__ import annotations

import json

import pytest

from finml.errors import ModelNotFound
from finml.models.synthetic import train_test


def test_reject_promote_rollback_are_audited_and_visible_in_mlflow(home, fast, sets) -> None:
    from finml.jobs.training import rollback, run_training
    from finml.registry import CHAMPION, PREVIOUS, by_alias, client, versions

    config, tables = home
    train, test = train_test(3000, seed=4)
    import pyarrow as pa

    features = tables.table("trade_features")
    for marker in range(3):  # feature-table versions 0, 1, 2
        features.overwrite(pa.table({"marker": [marker]}))
    weak = sets.degrade(train, ["f0", "f1"]).assign(_feature_table_version=1)
    sets.write(tables, weak, test)  # weak: only f2 carries signal
    first = run_training(config, None, tables, fast)
    assert first.decision.decision == "PROMOTE" and first.decision.champion_version is None

    sets.write(tables, sets.degrade(train, ["f0", "f1", "f2"]))  # worse: no signal at all
    worse = run_training(config, None, tables, fast)
    assert worse.decision.decision == "REJECT"
    assert worse.decision.improvement < 0

    sets.write(tables, train.assign(_feature_table_version=2))  # better: every signal
    better = run_training(config, None, tables, fast)
    assert better.decision.decision == "PROMOTE", better.decision.reasons
    assert better.decision.ci_low >= fast.gate.min_improvement

    name = better.model_name
    assert by_alias(config, name, CHAMPION).version == 3
    assert by_alias(config, name, PREVIOUS).version == 1
    record = rollback(config, tables, "precision fell in production", restore_features=True)
    assert (record.from_version, record.to_version) == (3, 1)
    assert record.feature_table_restored and record.feature_table_version == 1
    assert features.to_arrow().column("marker").to_pylist() == [1]  # time-travelled back
    assert by_alias(config, name, CHAMPION).version == 1
    with pytest.raises(ModelNotFound, match="expected aliases @champion and @previous-champion"):
        rollback(config, tables, "again")  # v1 replaced nobody: nothing left to go back to

    gate_rows = tables.table("champion_challenger_audit").to_arrow().to_pylist()
    decisions = sorted((r["challenger_version"], r["decision"]) for r in gate_rows)
    assert decisions == [("1", "PROMOTE"), ("2", "REJECT"), ("3", "PROMOTE")]
    assert all(r["reasons"] and r["event_id"] for r in gate_rows)
    assert all(json.loads(r["validation"])["signature"]["passed"] for r in gate_rows)
    rollbacks = tables.table("rollback_audit").to_arrow().to_pylist()
    assert [(r["from_version"], r["to_version"], r["reason"]) for r in rollbacks] == [
        ("3", "1", "precision fell in production")
    ]
    assert json.loads(rollbacks[0]["to_metrics"])["pr_auc"] > 0

    # what `mlflow ui` shows: aliases, and no MLflow-stage look-alike tags
    listed = {v.version: v for v in versions(config, name)}
    assert listed[1].aliases == ("champion",) and listed[2].aliases == ()
    assert listed[3].tags["finml.rolled_back"] == "true"
    assert not any("finml.stage" in v.tags for v in listed.values())
    mv = client(config).get_model_version(name, "3")
    assert mv.tags["finml.feature_table_version"] == "2" and mv.tags["finml.git_sha"]
    assert mv.tags["finml.data_window"].startswith("2026-01-05")

    board = tables.table("model_leaderboard").to_arrow().to_pandas()
    assert board.groupby("registered_version").size().to_dict() == {"1": 4, "2": 4, "3": 4}
    mlflow_client = client(config)
    experiment = mlflow_client.get_run(first.run_id).info.experiment_id
    runs = mlflow_client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{first.run_id}'")
    names = {r.data.tags["mlflow.runName"] for r in runs}
    assert names == {"lightgbm", "xgboost", "ensemble", "zscore_rule"}
    assert all("cv_pr_auc" in r.data.metrics and "holdout_pr_auc" in r.data.metrics for r in runs)
    _assert_mlflow_native_lineage(mlflow_client, first.run_id, better.run_id, runs)


def _delta_inputs(run) -> dict[str, dict]:
    """context -> the Delta source of each dataset logged as a run input."""
    found = {}
    for item in run.inputs.dataset_inputs:
        context = {t.key: t.value for t in item.tags}["mlflow.data.context"]
        assert item.dataset.source_type == "delta_table", item.dataset
        found[context] = json.loads(item.dataset.source) | {"name": item.dataset.name}
    return found


def _assert_mlflow_native_lineage(mlflow_client, first_id: str, better_id: str, runs) -> None:
    """Issue 20 item 4: what `mlflow ui` shows of a tournament without FinML's own tags."""
    from finml.registry import ANOMALY_EXPERIMENT, git_sha

    parent = mlflow_client.get_run(first_id)
    experiment = mlflow_client.get_experiment(parent.info.experiment_id)
    assert experiment.name == ANOMALY_EXPERIMENT
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    first = _delta_inputs(parent)
    assert {k: v["name"] for k, v in first.items()} == {"training": "train_set",
                                                         "testing": "test_set"}  # fmt: skip
    assert first["training"]["path"].endswith("train_set")
    better = _delta_inputs(mlflow_client.get_run(better_id))
    # each run pins the version it read (MLflow leaves a version 0 out): train_set was
    # rewritten twice in between
    pinned = [s["training"].get("delta_table_version", 0) for s in (first, better)]
    assert pinned[1] == pinned[0] + 2, pinned
    sha = git_sha()
    for run in [parent, *runs]:
        assert run.data.tags["mlflow.source.git.commit"] == sha != "unknown"
        assert _delta_inputs(run) == first
    for run in runs:
        models = [mlflow_client.get_logged_model(m.model_id) for m in run.outputs.model_outputs]
        assert [m.name for m in models] == [run.data.tags["mlflow.runName"]]
    # candidate runs start when their training did, so they overlap (logged one by one after
    # the whole tournament, they would follow each other)
    assert max(r.info.start_time for r in runs) < min(r.info.end_time for r in runs)
