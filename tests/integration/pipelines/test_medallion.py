"""The medallion end to end on simulated landing files: reconciliation, idempotent re-runs,
and a pipeline killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.jobs.data import run_simulation
from finml.pipelines.medallion import quarantine_by_rule, run_medallion
from finml.runtime.delta import DeltaTables
from finml.runtime.delta.commits import commit_info

REPO = Path(__file__).resolve().parents[3]
GOLD = ("gold_bars_1m", "gold_bars_daily")
QUARANTINED_KINDS = (
    "malformed_json",
    "wrong_type",
    "nonpositive_price",
    "nan_inf",
    "missing_symbol",
    "future_timestamp",
)
SIM = SimulatorConfig(
    seed=11,
    symbols=["AAPL", "MSFT"],
    days=3,
    trades_per_day=300,
    bad_records=BadRecordRates(**{k: 0.01 for k in BadRecordRates.model_fields}),
)


def content_hash(tables: DeltaTables, name: str) -> tuple[int, int]:
    """(rows, order-independent sum of row hashes) of a table's latest version."""
    df = tables.table(name).read()
    cols = [
        F.to_json(f.name) if isinstance(f.dataType, MapType) else F.col(f.name)
        for f in sorted(df.schema, key=lambda f: f.name)
    ]
    row = (
        df.select(F.xxhash64(*cols).cast("decimal(38,0)").alias("h"))
        .agg(F.count(F.lit(1)), F.sum("h"))
        .first()
    )
    return int(row[0]), int(row[1] or 0)


def simulated_home(root: Path) -> tuple[ProjectConfig, object]:
    config = ProjectConfig(home=root)
    summary = run_simulation(config, DeltaTables.from_config(config, None), SIM)
    return config, summary.manifest


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, spark) -> dict:
    config, manifest = simulated_home(tmp_path_factory.mktemp("whole"))
    tables = DeltaTables.from_config(config, spark)
    report = run_medallion(config, spark, tables)
    return {"config": config, "manifest": manifest, "tables": tables, "report": report}


def test_every_landing_record_is_accounted_for(uninterrupted: dict) -> None:
    manifest, report = uninterrupted["manifest"], uninterrupted["report"]
    silver = next(q for q in report.quality if q.table_name == "silver_trades")
    assert report.counts["bronze_trades"] == manifest.records
    assert silver.rows_out == manifest.legit_trades
    assert silver.rows_quarantined == sum(manifest.bad_counts[k] for k in QUARANTINED_KINDS)
    assert silver.duplicates_removed == manifest.bad_counts["duplicate_trade"]
    assert manifest.records == silver.rows_out + silver.rows_quarantined + silver.duplicates_removed
    rules = quarantine_by_rule(uninterrupted["tables"])
    assert rules["parsed_record"] == manifest.bad_counts["malformed_json"]
    assert rules["timestamp_not_future"] == manifest.bad_counts["future_timestamp"]
    for rule in ("price_numeric", "price_finite", "price_positive", "symbol_present"):
        assert rules[rule] > 0, rule
    assert all(manifest.bad_counts[k] > 0 for k in manifest.bad_counts)


def test_out_of_order_trades_reach_silver_and_gold(uninterrupted: dict) -> None:
    tables = uninterrupted["tables"]
    silver_minutes = (
        tables.table("silver_trades")
        .read()
        .select("symbol", F.date_trunc("minute", "ts").alias("window_start"))
        .distinct()
        .count()
    )
    assert tables.table("gold_bars_1m").count() == silver_minutes
    counts = tables.table("gold_bars_1m").read().agg(F.sum("trade_count")).first()[0]
    assert counts == uninterrupted["manifest"].legit_trades


def test_running_again_on_the_same_files_changes_no_table(uninterrupted: dict, spark) -> None:
    config, tables = uninterrupted["config"], uninterrupted["tables"]
    before = {
        t.name.table: (t.version(), content_hash(tables, t.name.table)) for t in tables.list()
    }
    again = run_medallion(config, spark, tables)
    after = {t.name.table: (t.version(), content_hash(tables, t.name.table)) for t in tables.list()}
    assert again.quality == [] and all(r.rows == 0 for r in again.ingest)
    assert after == before


ENGINE_CONFIG = """
project: finml
default_env: test
environments:
  test:
    home: {home}
    delta_engine: {engine}
    spark:
      shuffle_partitions: 2
"""


def run_pipeline_process(home: Path, engine: str = "delta-spark") -> subprocess.Popen[bytes]:
    """``finml pipeline run`` on ``home`` with ``engine`` (delta-spark runs the stages as
    Delta streaming queries, delta-rs plans them over the source's versions)."""
    config_file = home / f"finml-{engine}.yml"
    config_file.write_text(ENGINE_CONFIG.format(home=home, engine=engine))
    env = {**os.environ, "FINML_CONFIG": str(config_file), "PYTHONPATH": str(REPO / "src")}
    env.pop("FINML_HOME", None)
    return subprocess.Popen(
        [sys.executable, "-c", "from finml.cli import main; main()", "pipeline", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # SIGKILL the whole group: Python driver and its JVM
    )


def kill_when(process: subprocess.Popen[bytes], marker: Path, timeout: float = 240) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if marker.exists():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("engine", ["delta-spark", "delta-rs"])
def test_sigkill_mid_run_then_rerun_gives_the_uninterrupted_gold(
    uninterrupted: dict,
    tmp_path: Path,
    spark,
    engine: str,
) -> None:
    config, _ = simulated_home(tmp_path)
    warehouse = config.warehouse_dir / config.catalog / config.db_schema
    markers = [
        warehouse / "bronze_trades" / "_delta_log" / f"{0:020d}.json",
        warehouse / "silver_quarantine" / "_delta_log" / f"{0:020d}.json",
        warehouse / "silver_trades" / "_delta_log" / f"{0:020d}.json",
    ]
    killed = 0
    for marker in markers:
        killed += kill_when(run_pipeline_process(tmp_path, engine), marker)
    assert killed >= 1, "the pipeline finished before it could be killed"
    final = run_pipeline_process(tmp_path, engine)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()[-2000:]
    tables = DeltaTables.from_config(config, spark)
    whole = uninterrupted["tables"]
    for name in (*GOLD, "silver_trades", "silver_quarantine"):
        assert content_hash(tables, name)[0] == content_hash(whole, name)[0], name
    for name in GOLD:
        assert content_hash(tables, name) == content_hash(whole, name), name
    # One quality row per (table, stage batch), with the uninterrupted run's figures: none
    # lost to the kill between a batch's data and its quality rows, none repeated.
    assert quality_rows(tables) == quality_rows(whole)


def quality_rows(tables: DeltaTables) -> list[tuple]:
    columns = ("table_name", "stage", "batch_id", "rows_in", "rows_out", "rows_quarantined")
    rows = tables.table("data_quality_log").read().select(*columns).collect()
    return sorted(tuple(r) for r in rows)


def test_full_refresh_rebuilds_the_same_silver_and_gold(uninterrupted: dict, spark) -> None:
    config, tables = uninterrupted["config"], uninterrupted["tables"]
    names = (*GOLD, "silver_trades", "silver_quarantine")
    before = {name: content_hash(tables, name) for name in names}
    report = run_medallion(config, spark, tables, full_refresh=True)
    assert {q.layer for q in report.quality} == {"bronze", "silver", "gold"}
    assert all(r.rows == 0 for r in report.ingest)  # bronze is kept, nothing re-ingested
    after = {name: content_hash(tables, name) for name in names}
    assert {n: h[0] for n, h in after.items()} == {n: h[0] for n, h in before.items()}
    for name in GOLD:
        assert after[name] == before[name], name
    # Rebuilt inside the same tables: replaced (emptied) in one commit, then recomputed,
    # with the history before the refresh still readable.
    history = tables.table("silver_trades").history()
    replaced = next(e.version for e in history if e.operation.endswith("REPLACE TABLE"))
    assert tables.table("silver_trades").read(version=replaced).count() == 0
    assert (
        tables.table("silver_trades").read(version=replaced - 1).count()
        == before["silver_trades"][0]
    )


def test_large_batches_take_the_spark_path_to_the_same_tables(
    uninterrupted: dict, spark, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch above ``DRIVER_ROWS`` is written by Spark instead of from the driver:
    forcing that path (a limit below any batch) in a full refresh rebuilds the same silver
    trades, quarantine and gold bars as the driver path built."""
    from finml.pipelines import gold_stage, silver_stage

    config, tables = uninterrupted["config"], uninterrupted["tables"]
    identity = ("trade_id", "symbol", "ts", "price", "volume", "trade_date", "session")

    def silver_hash() -> tuple[int, int]:
        row = (
            tables.table("silver_trades")
            .read()
            .select(F.xxhash64(*identity).cast("decimal(38,0)").alias("h"))
            .agg(F.count(F.lit(1)), F.sum("h"))
            .first()
        )
        return int(row[0]), int(row[1] or 0)

    names = (*GOLD, "silver_quarantine")
    before = ({name: content_hash(tables, name)[0] for name in names}, silver_hash())
    gold_before = {name: content_hash(tables, name) for name in GOLD}
    monkeypatch.setattr(silver_stage, "DRIVER_ROWS", -1)
    monkeypatch.setattr(gold_stage, "DRIVER_ROWS", -1)
    run_medallion(config, spark, tables, full_refresh=True)
    assert ({name: content_hash(tables, name)[0] for name in names}, silver_hash()) == before
    assert {name: content_hash(tables, name) for name in GOLD} == gold_before
    for name in ("silver_trades", "gold_bars_1m"):  # committed by Spark, not delta-rs
        table = tables.table(name)
        info = commit_info(Path(table.ref.location), table.version())
        assert str(info.get("engineInfo", "")).startswith("Apache-Spark"), (name, info)
