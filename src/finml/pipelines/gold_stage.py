"""Silver trades -> the 1-minute and daily bars they touch (one stage batch).

The 1-minute bars come from the trades of each touched minute; the daily bars are rolled
up from ``gold_bars_1m`` (after its merge) for each touched day, so the trades are sorted
once, not once per bar table. On a first batch every key is affected, so the bars are
computed straight from silver without the semi-joins. Silver is read as of the batch's
last version, so a re-executed batch merges the same bars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from finml.pipelines import gold
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import check
from finml.pipelines.quality import QualityRecord, from_measures, profile_measures
from finml.pipelines.stages import BatchContext, Stage
from finml.pipelines.trades import SILVER_TRADES
from finml.runtime.delta import DRIVER_ROWS, MergeSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

GOLD_1M, GOLD_DAILY = gold.GOLD_1M, gold.GOLD_DAILY
_BAR_REQUIRED = ("open", "high", "low", "close")


def gold_batch(ctx: BatchContext) -> list[QualityRecord]:
    """Merge the bars touched by silver versions ``(start, end]``; returns the quality
    records of both bar tables."""
    tables, batch = ctx.tables, ctx.batch
    silver = tables.table(SILVER_TRADES)
    if batch.start is None:
        minutes = silver.read(version=batch.end)
        days = None
    else:
        increment = ctx.increment()
        minutes = (
            silver.read(version=batch.end)
            .withColumn("window_start", F.date_trunc("minute", "ts"))
            .join(
                F.broadcast(gold.affected_minutes(increment)),
                ["symbol", "window_start"],
                "left_semi",
            )
            .drop("window_start")
        )
        days = F.broadcast(gold.affected_days(increment))
    minute_record = merge_bars(
        ctx, GOLD_1M, minutes.transform(gold.bars_1m), gold.GOLD_BARS_1M_KEYS
    )
    day_minutes = tables.table(GOLD_1M).read()
    if days is not None:
        day_minutes = day_minutes.join(days, list(gold.GOLD_BARS_DAILY_KEYS), "left_semi")
    daily_bars = day_minutes.transform(gold.daily_from_1m).withColumn(
        "source", F.lit(gold.TRADES_SOURCE)
    )
    return [
        minute_record,
        merge_bars(ctx, GOLD_DAILY, daily_bars, gold.GOLD_BARS_DAILY_KEYS),
    ]


def merge_bars(
    ctx: BatchContext,
    name: str,
    bars: DataFrame,
    keys: tuple[str, ...],
    spec: MergeSpec | None = None,
) -> QualityRecord:
    """Check ``bars`` (a ``fail`` rule stops here, before anything is written) and merge
    them into ``name`` on ``keys``; returns the table's quality record of the batch."""
    checked = check(bars, expectations_for(name), name, profile_measures(_BAR_REQUIRED, keys))
    # A batch's bars are few (one per symbol and touched minute or day): merged from the
    # driver where the engine can (see DRIVER_ROWS), else by Spark.
    valid = checked.valid.toArrow() if checked.rows_valid <= DRIVER_ROWS else checked.valid
    ctx.tables.table(name).merge(
        valid, spec or MergeSpec(keys=keys), txn=ctx.txn(name), schema_evolution=True
    )
    checked.release()
    rows = checked.rows_in
    completeness, uniqueness = from_measures(checked.measures, rows, _BAR_REQUIRED)
    return ctx.record(
        "gold",
        name,
        rows_in=rows,
        rows_out=checked.rows_valid,
        rule_failures=checked.failures,
        completeness=completeness,
        uniqueness=uniqueness,
        validity=checked.rows_valid / rows if rows else 1.0,
    )


GOLD_STAGE = Stage(
    name="gold_bars",
    source=SILVER_TRADES,
    targets=(GOLD_1M, GOLD_DAILY),
    execute=gold_batch,
    legacy_app=f"{GOLD_DAILY}<-{SILVER_TRADES}",
)
