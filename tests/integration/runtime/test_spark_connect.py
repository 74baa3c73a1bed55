"""The Databricks path, locally: the medallion through Spark Connect on catalog tables.

Databricks serverless and Spark Connect clients have no ``SparkContext`` and no JVM in the
Python process. Here pyspark's own Spark Connect server runs (``spark-submit``, the Delta
jars, 127.0.0.1) and ``finml pipeline run`` runs in another process configured like a
Databricks environment: ``spark.remote`` set, ``workspace: databricks`` (tables by their
three-part catalog names, as Unity Catalog tables are named there, and read incrementally
through Change Data Feed). The client gets a ``JAVA_HOME`` that does not exist, so any code
path that started a local JVM would fail the run. It runs twice, the second time over one
more landing file, and the tables are then read without Spark (delta-rs, the raw log).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.runtime.connect import server_command, server_environment
from finml.sources.simulator import simulate, write_landing

REPO = Path(__file__).resolve().parents[3]
SIM = SimulatorConfig(
    seed=5,
    symbols=["AAPL", "MSFT"],
    days=2,
    trades_per_day=150,
    bad_records=BadRecordRates(**{k: 0.01 for k in BadRecordRates.model_fields}),
)
QUARANTINED_KINDS = (
    "malformed_json",
    "wrong_type",
    "nonpositive_price",
    "nan_inf",
    "missing_symbol",
    "future_timestamp",
)
CONFIG = """
project: finml
default_env: connect
environments:
  connect:
    workspace: databricks   # tables by catalog name, as on Databricks
    catalog: spark_catalog
    schema: default
    home: {home}
    spark:
      remote: "sc://127.0.0.1:{port}"
      shuffle_partitions: 2
"""
SERVER_START_SECONDS = 180
# The server's Python: the first foreachBatch worker it starts sleeps past Spark's fixed
# 10 s for a worker to connect back, as on a loaded machine; the run must restart that
# query from its checkpoint and still write every row once.
SLOW_FIRST_WORKER = """#!/bin/sh
case "$*" in
  *foreach_batch_worker*) mkdir "{marker}" 2>/dev/null && sleep 12 ;;
esac
exec "{python}" "$@"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Connect server exited {server.returncode}: {log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"Connect server not listening after {SERVER_START_SECONDS} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    """End the server's process group (spark-submit, its JVM, Python workers)."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A Spark Connect server with Delta, and the config file of a client using it."""
    root = tmp_path_factory.mktemp("connect")
    port = free_port()
    config_file = root / "project_config.yml"
    config_file.write_text(CONFIG.format(home=root / "state", port=port))
    config = ProjectConfig.from_yaml(config_file)
    log = root / "server.log"
    python = root / "slow-first-worker"
    python.write_text(SLOW_FIRST_WORKER.format(marker=root / "slowed", python=sys.executable))
    python.chmod(0o755)
    with log.open("wb") as out:
        server = subprocess.Popen(
            server_command(config, port),
            env={**server_environment(), "PYSPARK_PYTHON": str(python)},
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, server, log)
        yield {"root": root, "config": config, "config_file": config_file, "server": server}
    finally:
        stop(server)


def pipeline_run(connect: dict) -> subprocess.CompletedProcess[str]:
    """``finml pipeline run`` as a client process that cannot start a JVM."""
    env = {
        **os.environ,
        "FINML_CONFIG": str(connect["config_file"]),
        "PYTHONPATH": str(REPO / "src"),
        "JAVA_HOME": str(connect["root"] / "no-java-here"),
    }
    env.pop("FINML_HOME", None)
    result = subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", "pipeline", "run"],
        cwd=connect["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def scalar(table: Path, sql: str) -> object:
    reader = QueryBuilder().register("t", DeltaTable(str(table))).execute(sql)
    return pa.table(reader.read_all()).to_pylist()[0]


def count(table: Path) -> int:
    return int(scalar(table, 'SELECT count(*) AS n FROM "t"')["n"])


@pytest.fixture(scope="module")
def two_runs(connect: dict) -> dict:
    """Two days simulated; run 1 sees the first day's trades (and the bars), run 2 also
    the second day's."""
    config: ProjectConfig = connect["config"]
    staged = connect["root"] / "simulated"
    result = simulate(SIM)
    manifest = write_landing(result, staged, SIM)
    trades = sorted((staged / "trades").glob("*.jsonl"))
    assert len(trades) == 2
    landing = config.landing_dir
    shutil.copytree(staged / "bars", landing / "bars")
    (landing / "trades").mkdir(parents=True)
    shutil.copy(trades[0], landing / "trades")
    warehouse = config.home / "spark-warehouse"  # managed tables of spark_catalog.default
    first = pipeline_run(connect)
    after_first = {name: count(warehouse / name) for name in ("bronze_trades", "silver_trades")}
    shutil.copy(trades[1], landing / "trades")
    second = pipeline_run(connect)
    return {
        "manifest": manifest,
        "trades": result.trades,
        "warehouse": warehouse,
        "first": first,
        "second": second,
        "after_first": after_first,
    }


def test_the_medallion_runs_through_spark_connect_on_catalog_tables(two_runs: dict) -> None:
    manifest, warehouse = two_runs["manifest"], two_runs["warehouse"]
    bronze_first = two_runs["after_first"]["bronze_trades"]
    assert 0 < two_runs["after_first"]["silver_trades"] < manifest.legit_trades
    # the batch reports come back from the server's Python worker running foreachBatch
    assert f"trades_jsonl: {bronze_first:,} rows in 1 batch(es)" in two_runs["first"].stdout
    assert count(warehouse / "bronze_trades") == manifest.records
    assert count(warehouse / "silver_trades") == manifest.legit_trades
    assert scalar(warehouse / "silver_trades", 'SELECT count(DISTINCT trade_id) AS n FROM "t"')[
        "n"
    ] == (manifest.legit_trades)
    quarantined = sum(manifest.bad_counts[k] for k in QUARANTINED_KINDS)
    assert count(warehouse / "silver_quarantine") == quarantined
    trades = two_runs["trades"]
    minutes = trades.assign(minute=trades.ts_ms // 60_000)[["symbol", "minute"]]
    assert count(warehouse / "gold_bars_1m") == len(minutes.drop_duplicates())
    assert count(warehouse / "gold_bars_daily") == SIM.days * len(SIM.symbols)


def restarts(run: subprocess.CompletedProcess[str]) -> list[tuple[str, int]]:
    """The (reason, attempt) of each query restart the run logged."""
    found = []
    for line in run.stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the server's and Spark's own lines
        if event.get("event") in ("stream_restart", "stage_stream_restart"):
            found.append((event["reason"], event["attempt"]))
    return found


def test_a_query_whose_worker_missed_its_start_up_was_restarted(two_runs: dict) -> None:
    assert restarts(two_runs["first"]) == [("python_worker_start", 1)]
    assert restarts(two_runs["second"]) == []


def test_the_second_run_read_only_the_new_bronze_rows_through_the_change_feed(
    two_runs: dict,
) -> None:
    manifest, warehouse = two_runs["manifest"], two_runs["warehouse"]
    quality = pa.table(
        QueryBuilder()
        .register("q", DeltaTable(str(warehouse / "data_quality_log")))
        .execute(
            'SELECT batch_id, rows_in, duplicates_removed FROM "q" '
            "WHERE table_name = 'silver_trades' ORDER BY batch_id"
        )
        .read_all()
    ).to_pylist()
    bronze_first = two_runs["after_first"]["bronze_trades"]
    assert [q["batch_id"] for q in quality] == [0, 1]
    assert [q["rows_in"] for q in quality] == [bronze_first, manifest.records - bronze_first]
    assert sum(q["duplicates_removed"] for q in quality) == manifest.bad_counts["duplicate_trade"]


def test_the_tables_are_jvm_delta_tables_with_change_feed_and_txn_ids(two_runs: dict) -> None:
    silver = two_runs["warehouse"] / "silver_trades"
    table = DeltaTable(str(silver))
    assert table.metadata().configuration.get("delta.enableChangeDataFeed") == "true"
    history = table.history()
    writes = [h for h in history if h["operation"] == "WRITE"]
    assert len(writes) == 2  # one append per run
    assert all("Delta-Lake/4.4.0" in h["engineInfo"] for h in writes)
    for version in (h["version"] for h in writes):
        log = silver / "_delta_log" / f"{version:020d}.json"
        actions = [json.loads(line) for line in log.read_text().splitlines()]
        assert any("txn" in action for action in actions), f"commit {version} has no txn"


# Two client processes on one session (the client and the server's foreachBatch worker)
# number their relations from the same counter start; the server caches a relation's plan
# under its id. The "worker" asks before creating the table, the "client" later under the
# same plan id: it must see the table (it got the cached "false" and the stage skipped or
# lost bronze_bars).
PLAN_ID_PROBE = """
import json, sys
from pyspark.sql import SparkSession
from pyspark.sql.connect.plan import LogicalPlan
from pyspark.sql.types import LongType, StructField, StructType
from finml.runtime.delta import DeltaTables, make_engine

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()  # plan cache on (default)
spark.sql("CREATE SCHEMA IF NOT EXISTS spark_catalog.plan_id_probe")
table = DeltaTables(
    make_engine("delta-spark", spark), None, "spark_catalog", "plan_id_probe"
).table("probe")
LogicalPlan._nextPlanId = 10_000  # the worker's next plan id
before = table.exists()
table.create(StructType([StructField("id", LongType())]))
LogicalPlan._nextPlanId = 10_000  # the client's, the same by chance
print(json.dumps({"before": before, "after": table.exists()}))
"""


def test_a_table_created_by_another_process_of_the_session_exists_for_the_client(
    connect: dict,
) -> None:
    config: ProjectConfig = connect["config"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env["JAVA_HOME"] = str(connect["root"] / "no-java-here")
    result = subprocess.run(
        [sys.executable, "-c", PLAN_ID_PROBE, str(config.spark.remote)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"before": False, "after": True}
