"""Stages over a growing market, switching Delta engines between days.

On delta-spark a stage is a Delta streaming query (``availableNow``, a checkpoint per
stage); on delta-rs the stage's batch log plans batches over the source's versions. Both
share the log and its transaction ids, so one home can be run by either, day after day:
here day 1 runs on delta-spark, day 2 on delta-rs, day 3 on delta-spark again (its
checkpoint, left behind by day 2, must be replaced, not replayed), and the result must
equal one delta-spark run over the three days -- every trade once, one quality row per
(table, stage batch).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.pipelines import stages as stage_runner
from finml.pipelines.medallion import run_medallion
from finml.runtime.batches import BatchLog
from finml.runtime.delta import DeltaTables
from finml.sources.simulator import simulate, write_landing

SIM = SimulatorConfig(
    seed=23,
    symbols=["AAPL", "MSFT"],
    days=3,
    trades_per_day=200,
    bad_records=BadRecordRates(**{k: 0.01 for k in BadRecordRates.model_fields}),
)
# Columns that say when, or by which batch, a row was written -- not what it is.
VOLATILE = {"_ingested_at", "_batch_id", "computed_at", "_bronze_version", "run_id"}
COMPARED = ("silver_trades", "silver_quarantine", "gold_bars_1m", "gold_bars_daily")
STAGED = ("silver_bars", "silver_trades", "gold_bars")


def fingerprint(tables: DeltaTables, name: str) -> tuple[int, int]:
    df = tables.table(name).read()
    fields = sorted((f for f in df.schema if f.name not in VOLATILE), key=lambda f: f.name)
    cols = [
        F.to_json(f.name)
        if isinstance(f.dataType, MapType)
        else F.substring_index(f.name, "/", -1)  # the landing file, not the home it is in
        if f.name == "_source_file"
        else F.col(f.name)
        for f in fields
    ]
    row = (
        df.select(F.xxhash64(*cols).cast("decimal(38,0)").alias("h"))
        .agg(F.count(F.lit(1)), F.sum("h"))
        .first()
    )
    return int(row[0]), int(row[1] or 0)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated landing files, one trades file per day."""
    root = tmp_path_factory.mktemp("staged")
    write_landing(simulate(SIM), root, SIM)
    assert len(list((root / "trades").glob("*.jsonl"))) == SIM.days
    return root


def land(staged: Path, home: Path, days: int) -> None:
    """The bars and the first ``days`` days of trades in ``home``'s landing zone."""
    landing = ProjectConfig(home=home).landing_dir
    shutil.copytree(staged / "bars", landing / "bars", dirs_exist_ok=True)
    (landing / "trades").mkdir(parents=True, exist_ok=True)
    for path in sorted((staged / "trades").glob("*.jsonl"))[:days]:
        shutil.copy(path, landing / "trades")


def test_a_home_run_day_by_day_on_alternating_engines_equals_one_run(
    staged: Path, tmp_path: Path, spark, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage_runner, "LOG_PLANNED_ROWS", 0)  # delta-spark days stream, however few
    whole_home, daily_home = tmp_path / "whole", tmp_path / "daily"
    land(staged, whole_home, SIM.days)
    whole = DeltaTables.from_config(ProjectConfig(home=whole_home), spark)
    run_medallion(ProjectConfig(home=whole_home), spark, whole)

    batches: list[tuple[str, int]] = []
    for day, engine in enumerate(("delta-spark", "delta-rs", "delta-spark"), start=1):
        land(staged, daily_home, day)
        config = ProjectConfig(home=daily_home, delta_engine=engine)
        tables = DeltaTables.from_config(config, spark)
        assert tables.table("bronze_trades").streams == (engine == "delta-spark")
        report = run_medallion(config, spark, tables)
        trades = [q for q in report.quality if q.table_name == "silver_trades"]
        assert len(trades) == 1 and trades[0].rows_in > 0, (day, engine, trades)
        batches += [(q.stage, q.batch_id) for q in report.quality if q.layer != "bronze"]
        again = run_medallion(config, spark, tables)  # nothing new: no batch, no commit
        assert again.quality == [], (day, engine)

    stages = ProjectConfig(home=daily_home).checkpoint_dir / "stages"
    assert (stages / "silver_trades" / "stream" / "offsets").is_dir()

    daily = DeltaTables.from_config(ProjectConfig(home=daily_home), spark)
    for name in COMPARED:
        assert fingerprint(daily, name) == fingerprint(whole, name), name
    assert daily.table("silver_trades").read().select("trade_id").distinct().count() == (
        daily.table("silver_trades").count()
    )
    # Three days, three batches per stage numbered 0, 1, 2 whichever engine ran them.
    silver = sorted(b for s, b in set(batches) if s == "silver_trades")
    assert silver == [0, 1, 2]
    quality = daily.table("data_quality_log").read()
    per_batch = quality.groupBy("table_name", "stage", "batch_id").count()
    assert per_batch.where("count > 1").count() == 0
    assert quality.where("table_name = 'silver_trades'").count() == 3


def test_few_new_rows_are_planned_from_the_log_until_the_stage_streams_once(
    staged: Path, tmp_path: Path, spark, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On delta-spark, a day of few trades runs without a streaming query (its batch planned
    from the log); a day of more than ``LOG_PLANNED_ROWS`` streams, starting after the
    logged batch; from then on the stage streams (only its checkpoint knows what its
    batches read), however few the rows. The tables equal one run over the three days."""
    whole_home, daily_home = tmp_path / "whole", tmp_path / "daily"
    land(staged, whole_home, SIM.days)
    whole = DeltaTables.from_config(ProjectConfig(home=whole_home), spark)
    run_medallion(ProjectConfig(home=whole_home), spark, whole)

    config = ProjectConfig(home=daily_home)
    checkpoint = config.checkpoint_dir / "stages" / "silver_trades" / "stream"
    streamed = []
    few = SIM.trades_per_day * 10  # more than a day of trades and bad records
    for day, limit in enumerate((few, 0, few), start=1):
        monkeypatch.setattr(stage_runner, "LOG_PLANNED_ROWS", limit)
        land(staged, daily_home, day)
        tables = DeltaTables.from_config(config, spark)
        report = run_medallion(config, spark, tables)
        assert [q.batch_id for q in report.quality if q.table_name == "silver_trades"] == [day - 1]
        streamed.append(checkpoint.is_dir())
        assert run_medallion(config, spark, tables).quality == [], day  # nothing new
    log = BatchLog(config.checkpoint_dir / "stages" / "silver_trades")
    assert [log.get(n).stream for n in range(3)] == [False, True, True]
    assert streamed == [False, True, True]
    daily = DeltaTables.from_config(config, spark)
    for name in COMPARED:
        assert fingerprint(daily, name) == fingerprint(whole, name), name
