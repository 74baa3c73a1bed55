"""Lookback halos of the per-day feature build: which earlier trading days of a symbol each
day's computation needs, planned lazily from a per-(symbol, day) aggregate.

A day ``c`` of a symbol needs an earlier day ``d`` when either

* fewer than ``lookback`` trades of the symbol lie strictly between ``d`` and ``c`` (so the
  halo holds at least ``lookback`` earlier trades, or the whole earlier history), or
* ``d``'s last trade is within 60 s of ``c``'s first one (``trades_60s`` counts by time).

Both sets are suffixes of the earlier days (trade counts and last trade times grow with the
day), so each day needs the days from one ``_from`` index on. That index is an as-of lookup:
the days and the questions are sorted together by one key and the last day that is NOT
needed is carried forward (a window over the small aggregate, never a days x days join).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Window
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_MINUTE_US = 60 * 1_000_000


def _days(staged: DataFrame) -> DataFrame:
    """One row per (symbol, trade_date): ``_idx`` (1, 2, ... in date order), ``_n`` trades,
    ``_end`` trades up to and including the day, ``_first`` / ``_last`` trade times."""
    in_order = Window.partitionBy("symbol").orderBy("trade_date")
    running = in_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (
        staged.groupBy("symbol", "trade_date")
        .agg(
            F.count(F.lit(1)).alias("_n"),
            F.min("_ts_us").alias("_first"),
            F.max("_ts_us").alias("_last"),
        )
        .select(
            "*",
            F.row_number().over(in_order).alias("_idx"),
            F.sum("_n").over(running).alias("_end"),
        )
    )


def _last_unneeded(days: DataFrame, day_key: Column, ask_key: Column, ties_unneeded: bool):
    """Per day: the ``_idx`` of the latest day whose ``day_key`` is below the day's
    ``ask_key`` (or equal, with ``ties_unneeded``), null when there is none."""
    day_rank, ask_rank = (0, 1) if ties_unneeded else (1, 0)
    events = days.select(
        "symbol", day_key.alias("_key"), F.lit(day_rank).alias("_kind"), "_idx",
        F.lit(None).cast("long").alias("_ask"),
    ).unionByName(
        days.select(
            "symbol", ask_key.alias("_key"), F.lit(ask_rank).alias("_kind"),
            F.lit(None).cast("int").alias("_idx"), F.col("_idx").cast("long").alias("_ask"),
        )
    )  # fmt: skip
    before = (
        Window.partitionBy("symbol")
        .orderBy("_key", "_kind")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    found = F.last("_idx", ignorenulls=True).over(before)
    return events.select("symbol", "_ask", found.alias("_unneeded")).where(
        F.col("_ask").isNotNull()
    )


def halo_days(staged: DataFrame, lookback: int) -> DataFrame:
    """(symbol, trade_date, _chunk): the earlier day ``trade_date`` is in the halo of day
    ``_chunk`` of the symbol. ``staged`` has symbol, trade_date and ``_ts_us``."""
    days = _days(staged)
    by_count = _last_unneeded(days, F.col("_end"), F.col("_end") - F.col("_n") - lookback, True)
    by_time = _last_unneeded(days, F.col("_last"), F.col("_first") - _MINUTE_US, False)
    start = (
        by_count.withColumnRenamed("_unneeded", "_c")
        .join(by_time.withColumnRenamed("_unneeded", "_t"), ["symbol", "_ask"])
        .select(
            "symbol",
            F.col("_ask").cast("int").alias("_idx"),
            (F.least(F.coalesce("_c", F.lit(0)), F.coalesce("_t", F.lit(0))) + 1).alias("_from"),
        )
    )
    chunks = days.select("symbol", "_idx", F.col("trade_date").alias("_chunk"))
    needed = F.when(F.col("_from") < F.col("_idx"), F.sequence(F.col("_from"), F.col("_idx") - 1))
    pairs = start.join(chunks, ["symbol", "_idx"]).select(
        "symbol", "_chunk", F.explode(needed).alias("_idx")
    )
    sources = days.select("symbol", "_idx", "trade_date")
    return pairs.join(sources, ["symbol", "_idx"]).select("symbol", "trade_date", "_chunk")


def with_halo(staged: DataFrame, lookback: int) -> DataFrame:
    """``staged`` with ``_chunk`` (its own trade_date) and ``_halo`` false, plus a copy of
    every trade, ``_halo`` true, for each later day of its symbol that needs it."""
    own = staged.withColumn("_chunk", F.col("trade_date")).withColumn("_halo", F.lit(False))
    halo = staged.join(halo_days(staged, lookback), ["symbol", "trade_date"]).withColumn(
        "_halo", F.lit(True)
    )
    return own.unionByName(halo)
