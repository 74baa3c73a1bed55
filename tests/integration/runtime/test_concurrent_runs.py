"""Overlapping medallion runs on one home: nothing lost, nothing duplicated.

Real processes race on the same landing files and tables, without the run lock (the Delta
commits and the stages' batch logs must make that safe on their own), over a sweep of start
offsets; every outcome must equal the serial run. Then the lock itself: a second
``finml pipeline run`` fails fast naming the holder, or waits for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, MapType

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.jobs.data import run_simulation
from finml.pipelines.medallion import run_medallion
from finml.runtime.delta import DeltaTables
from finml.runtime.locks import run_lock

REPO = Path(__file__).resolve().parents[3]
FINML = Path(sys.executable).with_name("finml")
SIM = SimulatorConfig(
    seed=5,
    symbols=["AAPL", "MSFT"],
    days=2,
    trades_per_day=250,
    bad_records=BadRecordRates(**{k: 0.01 for k in BadRecordRates.model_fields}),
)
# Columns that say *when* or *by which micro-batch* a row was written, not what it is.
VOLATILE = {"_ingested_at", "_batch_id", "computed_at", "run_id"}
FINGERPRINTED = (
    "bronze_trades",
    "bronze_bars",
    "silver_trades",
    "silver_quarantine",
    "silver_bars",
    "silver_bars_quarantine",
    "gold_bars_1m",
    "gold_bars_daily",
)
RUN_UNLOCKED = (
    "import sys; from pathlib import Path; from finml.config import ProjectConfig; "
    "from finml.runtime.spark import get_spark; from finml.runtime.delta import DeltaTables; "
    "from finml.pipelines.medallion import run_medallion; "
    "c = ProjectConfig(home=Path(sys.argv[1])); s = get_spark(c); "
    "run_medallion(c, s, DeltaTables.from_config(c, s))"
)


def fingerprint(tables: DeltaTables, name: str) -> tuple[int, int]:
    """(rows, order-independent hash of the rows' content columns)."""
    df = tables.table(name).read()
    columns = []
    for field in sorted(df.schema, key=lambda f: f.name):
        if field.name in VOLATILE:
            continue
        column = F.col(field.name)
        if field.name == "_source_file":  # each home has its own landing folder
            column = F.regexp_extract(column, "/landing/(.+)$", 1)
        if isinstance(field.dataType, ArrayType):
            column = F.sort_array(column)
        if isinstance(field.dataType, MapType):
            column = F.to_json(column)
        columns.append(column)
    row = (
        df.select(F.xxhash64(*columns).cast("decimal(38,0)").alias("h"))
        .agg(F.count(F.lit(1)), F.sum("h"))
        .first()
    )
    return int(row[0]), int(row[1] or 0)


def outcome(home: Path, spark) -> dict[str, object]:
    tables = DeltaTables.from_config(ProjectConfig(home=home), spark)
    result: dict[str, object] = {name: fingerprint(tables, name) for name in FINGERPRINTED}
    dq = tables.table("data_quality_log").read()
    per_batch = dq.groupBy("table_name", "stage", "batch_id").count()
    result["dq_repeated_batches"] = per_batch.where("count > 1").count()
    totals = (
        dq.groupBy("table_name")
        .agg(*[F.sum(c).alias(c) for c in ("rows_in", "rows_out", "rows_quarantined")])
        .orderBy("table_name")
        .collect()
    )
    result["dq_totals"] = [tuple(r) for r in totals]
    return result


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template")
    config = ProjectConfig(home=home)
    run_simulation(config, DeltaTables.from_config(config, None), SIM)
    return config.landing_dir


def fresh_home(root: Path, landing: Path) -> Path:
    shutil.copytree(landing, ProjectConfig(home=root).landing_dir)
    return root


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, landing: Path, spark) -> dict[str, object]:
    home = fresh_home(tmp_path_factory.mktemp("serial"), landing)
    config = ProjectConfig(home=home)
    run_medallion(config, spark, DeltaTables.from_config(config, spark))
    return outcome(home, spark)


def environment(home: Path) -> dict[str, str]:
    return {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src")}


@pytest.mark.parametrize(
    "offsets",
    [(0.0, 0.0), (0.0, 2.0, 4.0)],
    ids=["two-together", "three-staggered"],
)
def test_overlapping_unlocked_runs_equal_the_serial_run(
    offsets: tuple[float, ...], landing: Path, serial: dict, tmp_path: Path, spark
) -> None:
    home = fresh_home(tmp_path / "home", landing)
    started = time.monotonic()
    runs = []
    for offset in offsets:
        time.sleep(max(0.0, started + offset - time.monotonic()))
        runs.append(
            subprocess.Popen(
                [sys.executable, "-c", RUN_UNLOCKED, str(home)],
                env=environment(home),
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
    got = outcome(home, spark)
    assert got["dq_repeated_batches"] == 0
    assert got == serial


def test_a_second_cli_run_fails_fast_naming_the_lock_holder(landing: Path, tmp_path: Path) -> None:
    home = fresh_home(tmp_path / "home", landing)
    config = ProjectConfig(home=home)
    with run_lock(config.home, "medallion.finml_local.markets"):
        clock = time.monotonic()
        run = subprocess.run(
            [str(FINML), "pipeline", "run"],
            env=environment(home),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        seconds = time.monotonic() - clock
        waited = subprocess.run(
            [str(FINML), "ingest", "--wait", "1.5"],
            env=environment(home),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert f"pid {os.getpid()}" in lines[0] and "run lock" in lines[0]
    assert seconds < 15  # refused before starting Spark
    assert waited.returncode == 1 and "after waiting 1.5 s" in waited.stderr
    assert not (config.warehouse_dir / "finml_local" / "markets" / "bronze_trades").exists()


def test_a_waiting_cli_run_proceeds_when_the_holder_finishes(landing: Path, tmp_path: Path) -> None:
    home = fresh_home(tmp_path / "home", landing)
    config = ProjectConfig(home=home)
    with run_lock(config.home, "medallion.finml_local.markets"):
        run = subprocess.Popen(
            [str(FINML), "ingest", "--wait", "120"],
            env=environment(home),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert run.poll() is None  # still waiting for the lock
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    assert "-> bronze_trades" in out
