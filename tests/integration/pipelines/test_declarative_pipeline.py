"""Spark Declarative Pipelines for real: ``finml pipeline run --declarative`` runs
``spark-pipelines`` (a process, its own Spark Connect server) on Delta into ``markets_dlt``,
and its silver, quarantine and gold rows equal the local runner's from the same landing files
-- a simulated market plus hand-made bad records of every kind in JSON lines, Parquet and CSV.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable
from pyspark.sql import functions as F

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.errors import DeclarativePipelineFailed
from finml.jobs.data import run_simulation
from finml.pipelines import contracts
from finml.pipelines.medallion import run_medallion
from finml.pipelines.sdp import SPEC_PATH, plan_run, run_pipeline
from finml.runtime.delta import DeltaTables

REPO = Path(__file__).resolve().parents[3]
SIM = SimulatorConfig(
    seed=5,
    symbols=["AAPL", "MSFT"],
    days=2,
    trades_per_day=600,
    bad_records=BadRecordRates(**{k: 0.005 for k in BadRecordRates.model_fields}),
)
T = 1704724200123  # 2024-01-08 14:30:00.123 UTC, a simulated trading day
# Columns only a run writes: batch ids, ingestion times, the runner's bronze versions.
RUN_COLUMNS = {"_batch_id", "_ingested_at", "_bronze_version"}
FINML = [sys.executable, "-c", "from finml.cli import main; main()"]


def bad_records(landing: Path) -> None:
    """A bad record for each rule family, a duplicate across files, Parquet (one readable
    file with a text price, one unreadable file), and a vendor bar with high < low."""

    def trade(s: str = "AAPL", p: object = 150.0, v: object = 10, t: int = T) -> dict:
        return {"s": s, "p": p, "v": v, "t": t, "c": ["1"]}

    first_day = sorted((landing / "trades").glob("*.jsonl"))[0].read_text().splitlines()
    elements = [
        trade(p=1.5e6),  # price_within_band: 10,000x the symbol's closes
        trade(p=2e9),  # price_below_max
        trade(p=-3.0),  # price_positive
        trade(t=T // 1000),  # timestamp_in_milliseconds: seconds
        trade(s=""),  # symbol_present
        trade(t=4_102_444_800_000),  # timestamp_not_future: 2100
        trade(v="lots"),  # volume_numeric
    ]
    lines = [json.dumps({"type": "trade", "data": [e]}) for e in elements]
    lines += ['{"type":"trade","data":[{"s":"AAPL"', first_day[0]]  # malformed; a duplicate
    (landing / "trades" / "trades_zz_extra.jsonl").write_text("\n".join(lines) + "\n")
    table = pa.table({"s": ["MSFT", "MSFT"], "p": ["151.5", "abc"], "v": [5, 5], "t": [T, T]})
    pq.write_table(table, landing / "trades" / "trades_zz.parquet")
    (landing / "trades" / "trades_zz_broken.parquet").write_bytes(b"PAR1 truncated")
    (landing / "bars" / "daily_ZZZ.csv").write_text(
        "timestamp,open,high,low,close,volume\n2024-01-05,10,11,9,10.5,100\n"
        "2024-01-04,10,9,11,10,100\n"
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, spark) -> dict:
    """One landing zone; the runner (in process) into markets, the declarative pipeline (the
    CLI, a process) into markets_dlt."""
    home = tmp_path_factory.mktemp("declarative")
    config = ProjectConfig(home=home)
    run_simulation(config, DeltaTables.from_config(config, None), SIM)
    bad_records(config.landing_dir)
    jobs = DeltaTables.from_config(config, spark)
    run_medallion(config, spark, jobs)
    env = {**os.environ, "FINML_HOME": str(home)}
    cli = subprocess.run(
        [*FINML, "pipeline", "run", "--declarative"], env=env, capture_output=True, text=True
    )
    dlt = DeltaTables(jobs.engine, jobs.warehouse, jobs.catalog, "markets_dlt")
    return {"config": config, "jobs": jobs, "dlt": dlt, "cli": cli}


def test_the_cli_runs_spark_pipelines_and_exits_0(both: dict) -> None:
    cli = both["cli"]
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "spark-pipelines: 8 flows completed" in cli.stdout
    assert "silver_quarantine" in cli.stdout and "markets_dlt" in cli.stdout
    rendered = yaml.safe_load((both["config"].home / "sdp" / "spark-pipeline.yml").read_text())
    assert rendered["name"] == yaml.safe_load((REPO / SPEC_PATH).read_text())["name"]


@pytest.mark.parametrize("contract", contracts.MEDALLION, ids=lambda c: c.name)
def test_declarative_rows_equal_the_runner_rows(both: dict, contract) -> None:
    jobs = both["jobs"].table(contract.name).read()
    dlt = both["dlt"].table(contract.name).read()
    for df in (jobs, dlt):  # both equal the contract (and so the generated DDL)
        assert [(f.name, f.dataType.simpleString().upper()) for f in df.schema] == (
            contract.sql_types()
        )
    # one pass: +1 per runner row, -1 per pipeline row; equal multisets net to 0 per row
    columns = [c for c in contract.column_names if c not in RUN_COLUMNS]
    sides = jobs.select(*columns, F.lit(1).alias("_side")).unionByName(
        dlt.select(*columns, F.lit(-1).alias("_side"))
    )
    per_row = sides.groupBy(*columns).agg(F.sum("_side").alias("net"), F.count("_side").alias("n"))
    differing, rows = per_row.agg(F.count_if(F.col("net") != 0), F.sum("n")).first()
    assert differing == 0
    assert rows > 0  # every table has rows here, the bad-bar quarantine included


def test_the_bad_records_are_quarantined_by_name_on_both_paths(both: dict) -> None:
    for tables in (both["jobs"], both["dlt"]):
        quarantine = tables.table("silver_quarantine").read()
        rules = {
            r.rule for r in quarantine.select(F.explode("_failed_rules").alias("rule")).collect()
        }
        assert {
            "price_within_band",
            "price_below_max",
            "price_positive",
            "timestamp_in_milliseconds",
            "symbol_present",
            "timestamp_not_future",
            "volume_numeric",
            "price_numeric",  # the Parquet row whose price is "abc"
            "parsed_record",  # the malformed line and the unreadable Parquet file
        } <= rules
        bars = tables.table("silver_bars_quarantine").read().collect()
        assert [list(r._failed_rules) for r in bars] == [["high_low_consistent"]]
        vendor = tables.table("gold_bars_daily").read().where("source = 'vendor'").collect()
        assert [(r.symbol, str(r.trade_date)) for r in vendor] == [("ZZZ", "2024-01-05")]
        silver = tables.table("silver_trades").read()
        assert silver.where("symbol = 'MSFT' AND price = 151.5").count() == 1  # from Parquet
        assert silver.count() == silver.select("trade_id").distinct().count()  # no duplicate


def test_the_pipeline_writes_delta_in_its_own_schema(both: dict) -> None:
    warehouse = both["config"].warehouse_dir / "finml_local"
    for contract in contracts.MEDALLION:
        folder = warehouse / "markets_dlt" / contract.name
        assert DeltaTable(str(folder)).version() >= 0  # a Delta log (never plain Parquet)
    jobs = both["jobs"].table("silver_trades").read()
    dlt = both["dlt"].table("silver_trades").read()
    assert jobs.where("_batch_id IS NULL").count() == 0  # the runner's ingestion batches
    assert dlt.where("_batch_id IS NOT NULL").count() == 0  # the pipeline's own rows
    written = sorted(p.name for p in (warehouse / "markets_dlt").iterdir())
    assert written == sorted(c.name for c in contracts.MEDALLION)  # and nothing else


def test_gold_fail_rule_stops_a_real_sdp_run(tmp_path: Path, spark) -> None:
    """A library whose gold bar breaks ohlc_consistent: the run fails while the table is
    computed, with one line naming the table, rule and bar, and commits no row."""
    library = tmp_path / "spec" / "bad_gold.py"
    library.parent.mkdir()
    library.write_text(
        "from pyspark import pipelines as dp\n"
        "from pyspark.sql import functions as F\n"
        "from finml.pipelines import contracts\n"
        "from finml.pipelines.expectations import enforce\n"
        "from finml.pipelines.gold import bars_1m\n"
        "GOLD = contracts.GOLD_BARS_1M\n\n"
        '@dp.materialized_view(name=GOLD.name, format="delta")\n'
        "def gold_bars_1m():\n"
        f"    ts = F.timestamp_millis(F.lit({T}) + F.col('id'))\n"
        "    trades = spark.range(2).select(\n"
        "        F.concat(F.lit('id'), F.col('id')).alias('trade_id'),\n"
        "        F.lit('AAPL').alias('symbol'),\n"
        "        F.lit(10.0).alias('price'), F.lit(-5.0).alias('volume'), ts.alias('ts'),\n"
        "        F.to_date(ts).alias('trade_date'), F.lit('regular').alias('session'))\n"
        "    return enforce(bars_1m(trades), GOLD.expectations_for(), GOLD.name, GOLD.keys)\n"
    )
    spec = yaml.safe_load((REPO / SPEC_PATH).read_text())
    spec["libraries"] = [{"glob": {"include": "bad_gold.py"}}]
    template = library.parent / "spark-pipeline.yml"
    template.write_text(yaml.safe_dump(spec))
    config = ProjectConfig(home=tmp_path / "home")
    run = plan_run(config, template)
    with pytest.raises(DeclarativePipelineFailed) as failed:
        run_pipeline(run)
    message = str(failed.value)
    assert "\n" not in message
    assert "table gold_bars_1m: expectation ohlc_consistent with action 'fail' violated" in message
    assert "symbol=AAPL, window_start=2024-01-08 14:30:00" in message
    gold = run.warehouse / "gold_bars_1m"
    assert not gold.exists() or spark.read.format("delta").load(str(gold)).count() == 0


def test_the_cli_fails_in_one_line_without_delta(tmp_path: Path) -> None:
    env = {**os.environ, "FINML_HOME": str(tmp_path), "FINML_DELTA_ENGINE": "delta-rs"}
    cli = subprocess.run(
        [*FINML, "pipeline", "run", "--declarative"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    lines = [line for line in cli.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: declarative pipeline: expected the Delta jars (`make jars` fetches them into "
        ".jars), found none; it writes Delta tables only, never plain Parquet"
    ]
