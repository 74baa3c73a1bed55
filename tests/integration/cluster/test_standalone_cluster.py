"""Clusters for real (issue 21 item 4): a standalone master and 2 workers on 127.0.0.1,
started from pyspark's own scripts, whose executors run a Python with no finml; the finml
wheel reaches them as it would on any cluster (``--py-files``).

* ``finml job run ingestion_workflow --target cluster`` (collect, medallion, features) and
  ``batch_inference_job`` submit each task with ``--master spark://...``; their Delta tables
  equal those of the same jobs with ``--target local`` on the same seeded market.
* The tournament fan-out (``SparkExecutor``) runs its fit tasks on the executors and
  answers exactly as ``SequentialExecutor`` in the same driver.

Minutes, not seconds (a JVM per task, twice): one module-scoped run of each, many asserts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from standalone import StandaloneCluster, clean_env

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "integration" / "bundle"))
from bundle_cli import finml, job_runs  # noqa: E402

pytestmark = pytest.mark.timeout(1200)
DRIVER = Path(__file__).with_name("fanout_driver.py")
# Tables the jobs write, each with its key (rows sorted by it before comparing).
COMPARED = {
    "bronze_trades": ["_raw"],  # the landed line, as received
    "silver_trades": ["trade_id"],
    "gold_bars_1m": ["symbol", "window_start"],
    "trade_features": ["trade_id"],
    "trade_labels": ["trade_id"],
    "predictions": ["trade_id", "model_version"],
}
# Columns that say when or by which run a row was written: they differ between any two runs.
RUN_COLUMNS = {"_ingested_at", "_source_file", "_available_at", "scored_at"}


def run_jobs(home: Path, target: str, extra: list[str]) -> dict[str, subprocess.CompletedProcess]:
    """The ingestion job, a seeded sample champion, then batch inference, in ``home``."""
    results = {"ingestion_workflow": finml(
        "job", "run", "ingestion_workflow", "--target", target, *extra, home=home, timeout=900
    )}  # fmt: skip
    register_champion(home)
    results["batch_inference_job"] = finml(
        "job", "run", "batch_inference_job", "--target", target, *extra, home=home, timeout=900
    )
    return results


def register_champion(home: Path) -> None:
    """The same seeded model in every home, ``@champion`` of anomaly_model (no Spark: a
    tournament is the fan-out test's business)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from finml import registry
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.serving.sample_model import ThresholdClassifier, log_threshold_model
    from finml.training_set import feature_columns

    with pytest.MonkeyPatch.context() as env:  # the config the job's tasks resolve
        env.setenv("FINML_HOME", str(home))
        config = ProjectConfig.from_yaml(REPO / "project_config.yml", "local")
    features = DeltaTables.from_config(config, None).table("trade_features").to_arrow()
    names = tuple(feature_columns(features.schema))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(names)))
    y = (x[:, 0] + 0.5 * rng.normal(size=400) > 0.8).astype(int)
    imputer = SimpleImputer(strategy="constant", fill_value=0.0)
    classifier = make_pipeline(imputer, LogisticRegression()).fit(x, y)
    model = ThresholdClassifier(classifier, names, 0.5)
    import mlflow

    experiment = registry.configure(config, registry.ANOMALY_EXPERIMENT)
    with mlflow.start_run(run_name="cluster-test-champion", experiment_id=experiment):
        info = log_threshold_model(model, "model")
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    registry.register(config, info.model_uri, name, aliases=("champion",))


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: StandaloneCluster,
    finml_wheel: Path,
    executor_python: Path,
) -> dict[str, dict]:
    cluster_vars = [
        "--var", f"spark_master={cluster.url}",
        "--var", f"finml_wheel={finml_wheel}",
        "--var", f"executor_python={executor_python}",
    ]  # fmt: skip
    out: dict = {"cluster_url": cluster.url}
    # The reference runs the same scripts on one local[2] session (--in-process: one JVM
    # start, not one per task); the cluster run is a spark-submit per task, as on a cluster.
    for target, extra in (("cluster", cluster_vars), ("local", ["--in-process"])):
        home = tmp_path_factory.mktemp(f"home_{target}")
        out[target] = {"home": home, "results": run_jobs(home, target, extra)}
        out[target]["rows"] = job_runs(home)
    return out


def read(home: Path, name: str) -> pd.DataFrame:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    table = DeltaTables.from_config(ProjectConfig(home=home), None).table(name)
    frame = table.to_arrow().to_pandas()
    frame = frame.drop(columns=[c for c in frame.columns if c in RUN_COLUMNS])
    keys = COMPARED[name]
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)[sorted(frame.columns)]


def engines(home: Path, name: str) -> set[str]:
    """Which Delta writer made each commit of table ``name`` (``Delta-Lake``: JVM Delta;
    delta-rs would mean the driver fell back for want of the jars)."""
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    location = DeltaTables.from_config(ProjectConfig(home=home), None).table(name).location
    found = set()
    for commit in sorted(Path(location.removeprefix("file://"), "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info is not None:
                found.add(str(info.get("engineInfo", "?")).split(" ")[-1].split("/")[0])
    return found


def test_every_task_ran_on_the_cluster_and_succeeded(runs: dict) -> None:
    for target in ("cluster", "local"):
        for job, result in runs[target]["results"].items():
            assert result.returncode == 0, f"{target} {job}: {result.stderr[-3000:]}"
    rows = runs["cluster"]["rows"]
    assert [(r["job"], r["task"], r["state"]) for r in rows] == [
        ("ingestion_workflow", "collect", "SUCCESS"),
        ("ingestion_workflow", "medallion", "SUCCESS"),
        ("ingestion_workflow", "features", "SUCCESS"),
        ("batch_inference_job", "score", "SUCCESS"),
    ]
    assert {r["target"] for r in rows} == {"cluster"}
    for row in rows:  # the command each task ran is the first line of its log
        command = Path(row["logs_path"]).read_text().splitlines()[0]
        assert f"--master {runs['cluster_url']} " in command, command
        assert "--py-files" in command and "py3-none-any.zip" in command, command
        assert "spark.pyspark.python=" in command, command
    assert {r["target"] for r in runs["local"]["rows"]} == {"local"}


@pytest.mark.parametrize("name", list(COMPARED))
def test_cluster_tables_equal_the_local_ones(runs: dict, name: str) -> None:
    mine, theirs = read(runs["cluster"]["home"], name), read(runs["local"]["home"], name)
    assert len(mine) > 0
    assert engines(runs["cluster"]["home"], name) == {"Delta-Lake"}  # JVM Delta, no fallback
    pd.testing.assert_frame_equal(mine, theirs, check_exact=False, rtol=0, atol=1e-9)


def test_the_fanout_runs_its_fits_on_the_executors_as_the_sequential_run(
    tmp_path: Path, cluster: StandaloneCluster, finml_py_file: Path, executor_python: Path
) -> None:
    report_file = tmp_path / "fanout.json"
    submit = Path(sys.executable).parent / "spark-submit"
    cmd = [
        str(submit), "--master", cluster.url, "--py-files", str(finml_py_file),
        "--conf", f"spark.pyspark.python={executor_python}",
        "--conf", f"spark.pyspark.driver.python={sys.executable}",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
        "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
        str(DRIVER), str(report_file),
    ]  # fmt: skip
    done = subprocess.run(
        cmd, env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(report_file.read_text())
    assert report["master"] == cluster.url
    # The driver and every executor imported finml from the shipped wheel; the executors
    # ran the Python without finml, in two different executors of the workers.
    assert report["driver_finml"].startswith(f"{finml_py_file}/finml/")
    executors = report["executors"]
    assert {e["executable"] for e in executors} == {str(executor_python)}
    assert all(f"{finml_py_file.name}/finml/" in e["finml"] for e in executors), executors
    assert len({Path(e["workdir"]).name for e in executors}) == 2, executors
    assert all(str(cluster.logs) in e["workdir"] for e in executors), executors
    # The tournament: same candidates, leaderboard, fold scores and refit holdout scores.
    assert report["candidates"] == report["sequential_candidates"]
    assert set(report["candidates"]) >= {"lightgbm", "random_forest", "isolation_forest"}
    assert report["leaderboards_equal"] is True
    assert report["fold_scores_equal"] == dict.fromkeys(report["candidates"], True)
    assert report["holdout_scores_equal"] == dict.fromkeys(report["candidates"], True)
    assert report["holdout_rows"] > 0


def test_the_workers_run_without_the_tests_python_path(
    cluster: StandaloneCluster, executor_python: Path
) -> None:
    # spark-class execs java: each started process is the master's or a worker's JVM.
    assert len(cluster.processes) == 3
    for process in cluster.processes:
        raw = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        assert "PYTHONPATH" not in env
        assert not any(k.startswith("FINML_") for k in env)
        assert env["PYSPARK_PYTHON"] == str(executor_python)
