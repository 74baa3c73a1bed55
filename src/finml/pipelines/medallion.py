"""The medallion runner: landing -> bronze -> silver (+ quarantine) -> gold, exactly once.

Every stage reads only the upstream commits it has not processed yet
(:meth:`Table.read_appended`) and writes its targets with a Delta transaction id
``(stage, upstream version)``. A stage's *last* target decides what is pending; its earlier
targets skip a version they already hold. So a run killed anywhere and run again reaches the
same tables as an uninterrupted run, and a run with nothing new changes nothing.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from finml.log import get_logger
from finml.pipelines import gold
from finml.pipelines.expectations import (
    FAILED_RULES,
    check,
    expect,
    expectations_for,
    observe,
)
from finml.pipelines.ingest import IngestResult, ingest_landing
from finml.pipelines.quality import (
    DQ_TABLE,
    QualityRecord,
    completeness,
    distinct_keys,
    from_measures,
    non_null_measures,
    profile_measures,
    to_arrow,
)
from finml.pipelines.trades import (
    SILVER_COLUMNS,
    SILVER_TRADES,
    deduplicate,
    typed_trades,
    with_trade_identity,
)
from finml.runtime.delta import MergeSpec, Txn

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables, Table

log = get_logger("pipelines.medallion")

BRONZE, QUARANTINE = "bronze_trades", "silver_quarantine"
GOLD_1M, GOLD_DAILY = "gold_bars_1m", "gold_bars_daily"
REFRESHED = (SILVER_TRADES, QUARANTINE, GOLD_1M, GOLD_DAILY)
_BAR_RULES = "low <= least(open, close) AND high >= greatest(open, close) AND volume > 0"
expect(GOLD_1M, "ohlc_consistent", _BAR_RULES, action="fail")
expect(GOLD_DAILY, "ohlc_consistent", _BAR_RULES, action="fail")


@dataclass
class MedallionReport:
    ingest: list[IngestResult] = field(default_factory=list)
    quality: list[QualityRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run_medallion(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables, *, full_refresh: bool = False
) -> MedallionReport:
    """Run every stage once over whatever is new; ``full_refresh`` rebuilds silver and gold
    from all of bronze."""
    if full_refresh:
        _drop(tables, REFRESHED)
    report = MedallionReport()
    clock = time.perf_counter()
    report.ingest = ingest_landing(config, spark, tables)
    report.seconds["ingest"], clock = time.perf_counter() - clock, time.perf_counter()
    report.quality += silver_stage(tables)
    report.seconds["silver"], clock = time.perf_counter() - clock, time.perf_counter()
    report.quality += gold_stage(tables)
    report.seconds["gold"], clock = time.perf_counter() - clock, time.perf_counter()
    if report.quality:
        tables.table(DQ_TABLE).append(to_arrow(report.quality))
    report.counts = {
        str(t.name.table): t.count() for t in tables.list() if t.name.table != DQ_TABLE
    }
    return report


def _drop(tables: DeltaTables, names: tuple[str, ...]) -> None:
    for name in names:
        location = Path(tables.table(name).location)
        if location.exists():
            shutil.rmtree(location)
            log.info("table_dropped_for_full_refresh", table=name)


def _pending(source: Table, target: Table, app_id: str) -> tuple[int | None, int] | None:
    """``(done, latest)`` upstream versions if ``target`` is behind ``source``, else None."""
    if not source.exists():
        return None
    latest = source.version()
    done = target.txn_version(app_id) if target.exists() else None
    if done is not None and done >= latest:
        return None
    return done, latest


SILVER_REQUIRED = ("symbol", "price", "volume", "ts")
BRONZE_REQUIRED = ("s", "p", "v", "t")


def silver_stage(tables: DeltaTables) -> list[QualityRecord]:
    """Bronze increment -> checked, deduplicated silver trades + quarantine.

    The rule counts and completeness are observed while quarantine and silver are written
    (silver has no ``fail`` rule; each target counts the rows it keeps), so the increment
    is read twice -- once per target -- and never cached or aggregated separately; the
    rules read only the typed columns, so the trade identity and session are derived after
    the split, for the rows each target keeps.
    Bronze uniqueness is one lean distinct count.
    """
    bronze, silver = tables.table(BRONZE), tables.table(SILVER_TRADES)
    app = f"{SILVER_TRADES}<-{BRONZE}"
    pending = _pending(bronze, silver, app)
    if pending is None:
        return []
    done, latest = pending
    increment = bronze.read_appended(done, latest)
    measures = {
        **non_null_measures(SILVER_REQUIRED),
        **non_null_measures(BRONZE_REQUIRED, "bronze_"),
    }
    split = observe(
        typed_trades(increment), expectations_for(SILVER_TRADES), SILVER_TRADES, measures
    )
    quarantine = with_trade_identity(split.quarantined).withColumn(
        "_bronze_version", F.lit(latest).cast("long")
    )
    quarantined = tables.table(QUARANTINE).append(
        quarantine, txn=Txn(f"{QUARANTINE}<-{BRONZE}", latest), schema_evolution=True
    )
    valid = with_trade_identity(split.valid).select(*SILVER_COLUMNS)
    new = deduplicate(valid, silver.read().select("trade_id") if silver.exists() else None)
    written = silver.append(new, txn=Txn(app, latest))
    inserted = int(written.rows or 0)
    checked = split.result(written=not (quarantined.skipped or written.skipped))
    rows, values = checked.rows_in, checked.measures
    bronze_unique = distinct_keys(increment, ("_raw", "_source_file")) / rows if rows else 1.0
    parse_errors = checked.failures.get("parsed_record", 0)
    run_id = f"{BRONZE}@{latest}"
    log.info(
        "silver_done",
        bronze_version=latest,
        rows_in=rows,
        inserted=inserted,
        quarantined=checked.rows_quarantined,
    )
    return [
        QualityRecord(
            run_id,
            "bronze",
            BRONZE,
            latest,
            rows,
            rows,
            rule_failures={"parsed_record": parse_errors},
            completeness=completeness(values, rows, BRONZE_REQUIRED, "bronze_"),
            uniqueness=bronze_unique,
            validity=1 - parse_errors / rows if rows else 1.0,
        ),
        QualityRecord(
            run_id,
            "silver",
            SILVER_TRADES,
            latest,
            rows,
            inserted,
            rows_quarantined=checked.rows_quarantined,
            rows_dropped=checked.rows_dropped,
            duplicates_removed=checked.rows_valid - inserted,
            rule_failures=checked.failures,
            completeness=completeness(values, rows, SILVER_REQUIRED),
            uniqueness=inserted / checked.rows_valid if checked.rows_valid else 1.0,
            validity=checked.rows_valid / rows if rows else 1.0,
        ),
    ]


def gold_stage(tables: DeltaTables) -> list[QualityRecord]:
    """Recompute exactly the 1-minute and daily bars touched by new silver trades.

    The 1-minute bars come from the trades of each touched minute; the daily bars are
    rolled up from ``gold_bars_1m`` (after its merge) for each touched day, so the trades
    are sorted once, not once per bar table. On a first run (nothing processed yet) every
    key is affected, so the bars are computed straight from silver without the semi-joins.
    """
    silver, daily = tables.table(SILVER_TRADES), tables.table(GOLD_DAILY)
    pending = _pending(silver, daily, f"{GOLD_DAILY}<-{SILVER_TRADES}")
    if pending is None:
        return []
    done, latest = pending
    if done is None:
        minutes = silver.read(version=latest)
        days = None
    else:
        increment = silver.read_appended(done, latest)
        minutes = (
            silver.read(version=latest)
            .withColumn("window_start", F.date_trunc("minute", "ts"))
            .join(
                F.broadcast(gold.affected_minutes(increment)),
                ["symbol", "window_start"],
                "left_semi",
            )
            .drop("window_start")
        )
        days = F.broadcast(gold.affected_days(increment))
    minute_record = _merge_bars(
        tables, GOLD_1M, minutes.transform(gold.bars_1m), gold.GOLD_BARS_1M_KEYS, latest
    )
    day_minutes = tables.table(GOLD_1M).read()
    if days is not None:
        day_minutes = day_minutes.join(days, list(gold.GOLD_BARS_DAILY_KEYS), "left_semi")
    daily_bars = day_minutes.transform(gold.daily_from_1m)
    return [
        minute_record,
        _merge_bars(tables, GOLD_DAILY, daily_bars, gold.GOLD_BARS_DAILY_KEYS, latest),
    ]


_BAR_REQUIRED = ("open", "high", "low", "close")


def _merge_bars(
    tables: DeltaTables, name: str, bars: DataFrame, keys: tuple[str, ...], latest: int
) -> QualityRecord:
    checked = check(bars, expectations_for(name), name, profile_measures(_BAR_REQUIRED, keys))
    tables.table(name).merge(
        checked.valid, MergeSpec(keys=keys), txn=Txn(f"{name}<-{SILVER_TRADES}", latest)
    )
    checked.release()
    rows = checked.rows_in
    completeness, uniqueness = from_measures(checked.measures, rows, _BAR_REQUIRED)
    return QualityRecord(
        f"{SILVER_TRADES}@{latest}",
        "gold",
        name,
        latest,
        rows,
        checked.rows_valid,
        rule_failures=checked.failures,
        completeness=completeness,
        uniqueness=uniqueness,
        validity=checked.rows_valid / rows if rows else 1.0,
    )


def quarantine_by_rule(tables: DeltaTables) -> dict[str, int]:
    """Quarantined rows per failed rule (a row failing two rules counts under both)."""
    table = tables.table(QUARANTINE)
    if not table.exists():
        return {}
    counts = (
        table.read().select(F.explode(FAILED_RULES).alias("rule")).groupBy("rule").count()
    ).collect()
    return {row["rule"]: int(row["count"]) for row in sorted(counts, key=lambda r: r["rule"])}
