"""Silver trades -> the 1-minute and daily bars they touch (one stage batch).

The 1-minute bars come from the trades of each touched minute; the daily bars are rolled
up from ``gold_bars_1m`` (after its merge) for each touched day, so the trades are sorted
once, not once per bar table. On a first batch every key is affected, so the bars are
computed straight from silver without the semi-joins. Silver is read as of the batch's
last version, so a re-executed batch merges the same bars.

A batch of at most ``DRIVER_ROWS`` new trades (a day) reads only the rows it needs on the
driver: silver's trades within the touched minutes' time range and ``gold_bars_1m``'s bars
within the touched days, by delta-rs with the bounds pushed down to the files' statistics.
The same Spark functions then compute and check the bars over those few rows, without a
scan of either table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from finml.pipelines import gold
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import check
from finml.pipelines.quality import QualityRecord, from_measures, profile_measures
from finml.pipelines.stages import BatchContext, Stage
from finml.pipelines.trades import SILVER_TRADES
from finml.runtime.delta import DRIVER_ROWS, MergeSpec, within

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

GOLD_1M, GOLD_DAILY = gold.GOLD_1M, gold.GOLD_DAILY
_BAR_REQUIRED = ("open", "high", "low", "close")
# The silver columns :func:`gold.bars_1m` reads (its docstring's contract).
_TRADE_COLUMNS = ("symbol", "trade_id", "price", "volume", "ts", "trade_date", "session")


def gold_batch(ctx: BatchContext) -> list[QualityRecord]:
    """Merge the bars touched by silver versions ``(start, end]``; returns the quality
    records of both bar tables."""
    tables, batch = ctx.tables, ctx.batch
    if batch.start is not None and ctx.small(DRIVER_ROWS):
        records = _gold_on_driver(ctx)
        if records is not None:
            return records
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


def _gold_on_driver(ctx: BatchContext) -> list[QualityRecord] | None:
    """:func:`gold_batch` for a small batch: the touched minutes' trades and the touched
    days' minutes read within literal bounds on the driver (see the module doc). None for
    a batch without trades (the Spark path records it)."""
    increment = ctx.increment()
    spark = increment.sparkSession
    touched = increment.select("symbol", "ts", "trade_date").toArrow()
    if touched.num_rows == 0:
        return None
    minute = pc.floor_temporal(touched.column("ts"), unit="minute")
    minutes = pa.table({"symbol": touched.column("symbol"), "window_start": minute})
    trades = (
        ctx.tables.table(SILVER_TRADES)
        .to_arrow(ctx.batch.end, within("ts", minute, timedelta(minutes=1)))
        .select(_TRADE_COLUMNS)
    )
    trades = trades.append_column(
        "window_start", pc.floor_temporal(trades.column("ts"), unit="minute")
    )
    trades = trades.join(minutes.group_by(["symbol", "window_start"]).aggregate([]),
                         ["symbol", "window_start"], join_type="left semi")  # fmt: skip
    minute_bars = spark.createDataFrame(trades.drop_columns(["window_start"])).transform(
        gold.bars_1m
    )
    minute_record = merge_bars(ctx, GOLD_1M, minute_bars, gold.GOLD_BARS_1M_KEYS)
    days = pa.table(
        {"symbol": touched.column("symbol"), "trade_date": touched.column("trade_date")}
    )
    day_minutes = ctx.tables.table(GOLD_1M).to_arrow(
        where=within("trade_date", days.column("trade_date"), timedelta(days=1))
    )
    day_minutes = day_minutes.join(days.group_by(["symbol", "trade_date"]).aggregate([]),
                                   ["symbol", "trade_date"], join_type="left semi")  # fmt: skip
    daily_bars = (
        spark.createDataFrame(day_minutes)
        .transform(gold.daily_from_1m)
        .withColumn("source", F.lit(gold.TRADES_SOURCE))
    )
    return [minute_record, merge_bars(ctx, GOLD_DAILY, daily_bars, gold.GOLD_BARS_DAILY_KEYS)]


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
