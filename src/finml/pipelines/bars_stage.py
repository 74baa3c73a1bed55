"""Bronze bars -> silver bars (+ quarantine) -> vendor rows of gold daily bars (one batch).

Silver bars are MERGEd on (symbol, interval, bar_start), so a bar collected twice is
stored once and a later fetch replaces an earlier one. Daily vendor bars then enter
``gold_bars_daily`` with ``source = 'vendor'`` only where no trade-derived bar exists:
the merge updates a vendor row, never a trade-derived one, and the trades stage replaces
vendor rows when trades for that day arrive.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from finml.log import get_logger
from finml.pipelines import contracts
from finml.pipelines.bars import (
    BAR_KEYS,
    BARS_QUARANTINE,
    PRICES,
    SILVER_BAR_COLUMNS,
    SILVER_BARS,
    latest_fetch,
    typed_bars,
    vendor_daily,
)
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import check
from finml.pipelines.gold import GOLD_BARS_DAILY_KEYS, VENDOR_SOURCE
from finml.pipelines.gold_stage import GOLD_DAILY, merge_bars
from finml.pipelines.quality import QualityRecord, from_measures, profile_measures
from finml.pipelines.stages import BatchContext, Stage
from finml.runtime.delta import MergeSpec

log = get_logger("pipelines.bars")

BRONZE_BARS = contracts.BRONZE_BARS.name


def bars_batch(ctx: BatchContext) -> list[QualityRecord]:
    """One batch of bronze bars -> quarantine, silver bars, gold vendor daily bars."""
    tables, batch = ctx.tables, ctx.batch
    increment = ctx.increment()
    rules = expectations_for(SILVER_BARS, ctx.quality.sql_params())
    measures = profile_measures((*PRICES, "volume"), BAR_KEYS)
    checked = check(typed_bars(increment), rules, SILVER_BARS, measures)
    quarantine = checked.quarantined.withColumn("_bronze_version", F.lit(batch.end).cast("long"))
    tables.table(BARS_QUARANTINE).append(
        quarantine.select(*contracts.SILVER_BARS_QUARANTINE.column_names),
        txn=ctx.txn(BARS_QUARANTINE),
        partition_by=contracts.SILVER_BARS_QUARANTINE.partition_by,
        schema_evolution=True,
    )
    unique = latest_fetch(checked.valid.select(*SILVER_BAR_COLUMNS)).cache()
    try:
        kept = unique.count()
        tables.table(SILVER_BARS).merge(
            unique,
            MergeSpec(keys=BAR_KEYS, matched_condition="s._ingested_at >= t._ingested_at"),
            txn=ctx.txn(SILVER_BARS),
        )
        gold = merge_bars(
            ctx,
            GOLD_DAILY,
            vendor_daily(unique),
            GOLD_BARS_DAILY_KEYS,
            MergeSpec(keys=GOLD_BARS_DAILY_KEYS, matched_condition=f"t.source = '{VENDOR_SOURCE}'"),
        )
    finally:
        unique.unpersist()
        checked.release()
    rows = checked.rows_in
    completeness, _ = from_measures(checked.measures, rows, (*PRICES, "volume"))
    log.info("bars_done", batch=batch.number, rows_in=rows, kept=kept)
    parse_errors = checked.failures.get("parsed_record", 0)
    return [
        ctx.record(
            "bronze",
            BRONZE_BARS,
            rows_in=rows,
            rows_out=rows,
            rule_failures={"parsed_record": parse_errors},
            validity=1 - parse_errors / rows if rows else 1.0,
        ),
        ctx.record(
            "silver",
            SILVER_BARS,
            rows_in=rows,
            rows_out=kept,
            rows_quarantined=checked.rows_quarantined,
            rows_dropped=checked.rows_dropped,
            duplicates_removed=checked.rows_valid - kept,
            rule_failures=checked.failures,
            completeness=completeness,
            uniqueness=kept / checked.rows_valid if checked.rows_valid else 1.0,
            validity=checked.rows_valid / rows if rows else 1.0,
        ),
        gold,
    ]


BARS_STAGE = Stage(
    name="silver_bars",
    source=BRONZE_BARS,
    targets=(BARS_QUARANTINE, SILVER_BARS, GOLD_DAILY),
    execute=bars_batch,
)
