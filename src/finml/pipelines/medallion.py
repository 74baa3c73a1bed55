"""The medallion runner: landing -> bronze -> silver (+ quarantine) -> gold, exactly once.

Ingestion is a set of checkpointed file streams (:mod:`finml.pipelines.ingest`); every
later step is a :class:`~finml.pipelines.stages.Stage` whose batches are planned in a log
before they run, so racing or interrupted runs process the same batches and commit each
once. Stages run in dependency order:

* ``silver_bars`` — vendor bars -> silver bars (+ quarantine) -> vendor rows of gold daily;
* ``silver_trades`` — bronze trades -> silver trades (+ quarantine), prices judged against
  the gold daily closes (vendor ones included) as planned;
* ``gold_bars`` — silver trades -> the 1-minute and daily bars they touch.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from finml.log import get_logger
from finml.pipelines.bars import BARS_QUARANTINE, SILVER_BARS
from finml.pipelines.bars_stage import BARS_STAGE
from finml.pipelines.expectations import FAILED_RULES
from finml.pipelines.gold_stage import GOLD_1M, GOLD_DAILY, GOLD_STAGE
from finml.pipelines.ingest import IngestResult, ingest_landing
from finml.pipelines.quality import DQ_TABLE, QualityRecord
from finml.pipelines.quality_targets import QualityTargetMissed, TargetMiss, target_misses
from finml.pipelines.settings import QualitySettings
from finml.pipelines.silver_stage import QUARANTINE, SILVER_STAGE
from finml.pipelines.stages import run_stage
from finml.pipelines.trades import SILVER_TRADES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("pipelines.medallion")

STAGES = (BARS_STAGE, SILVER_STAGE, GOLD_STAGE)
REFRESHED = (SILVER_TRADES, QUARANTINE, SILVER_BARS, BARS_QUARANTINE, GOLD_1M, GOLD_DAILY)


@dataclass
class MedallionReport:
    ingest: list[IngestResult] = field(default_factory=list)
    quality: list[QualityRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    misses: list[TargetMiss] = field(default_factory=list)


def run_medallion(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables, *, full_refresh: bool = False
) -> MedallionReport:
    """Run every stage once over whatever is new; ``full_refresh`` rebuilds silver and gold
    from all of bronze."""
    stages_dir = config.checkpoint_dir / "stages"
    if full_refresh:
        _replace(tables, REFRESHED, stages_dir)
    report = MedallionReport(run_id=uuid.uuid4().hex)
    quality = QualitySettings.from_config(config)
    clock = time.perf_counter()
    report.ingest = ingest_landing(config, spark, tables)
    report.seconds["ingest"] = time.perf_counter() - clock
    for stage in STAGES:
        clock = time.perf_counter()
        records = run_stage(stage, tables, stages_dir, quality, report.run_id)
        report.quality += records
        report.seconds[stage.name] = time.perf_counter() - clock
        misses = target_misses(records, quality)
        report.misses += misses
        if misses:
            log.warning("quality_target_missed", stage=stage.name, misses=[str(m) for m in misses])
            if quality.on_target_miss == "block":
                raise QualityTargetMissed(misses)
    report.counts = {
        str(t.name.table): t.count() for t in tables.list() if t.name.table != DQ_TABLE
    }
    return report


def _replace(tables: DeltaTables, names: tuple[str, ...], stages_dir: Path) -> None:
    """Empty the refreshed tables with ``CREATE OR REPLACE TABLE`` (they stay the same
    tables: history, properties and, in Unity Catalog, grants are kept) and forget the
    stages' batches and checkpoints, so everything is recomputed from bronze."""
    for name in names:
        table = tables.table(name)
        if table.exists():
            result = table.replace()
            log.info("table_replaced_for_full_refresh", table=name, version=result.version)
    shutil.rmtree(stages_dir, ignore_errors=True)


def quarantine_by_rule(tables: DeltaTables, table: str = QUARANTINE) -> dict[str, int]:
    """Quarantined rows per failed rule (a row failing two rules counts under both)."""
    quarantine = tables.table(table)
    if not quarantine.exists():
        return {}
    counts = (
        quarantine.read().select(F.explode(FAILED_RULES).alias("rule")).groupBy("rule").count()
    ).collect()
    return {row["rule"]: int(row["count"]) for row in sorted(counts, key=lambda r: r["rule"])}
