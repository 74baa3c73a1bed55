"""Gold transforms: OHLCV bars from silver trades (pure ``DataFrame -> DataFrame``).

Bars are deterministic functions of their trades: open/close are the first/last trade by
``(ts, trade_id)`` (ties broken by the id), and realised volatility is the square root of
the sum of squared log returns between consecutive trades inside the bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

GOLD_BARS_1M_KEYS = ("symbol", "window_start")
GOLD_BARS_DAILY_KEYS = ("symbol", "trade_date")
_ORDER = ("ts", "trade_id")


def _with_returns(trades: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """Add ``_r2``: the squared log return from the previous trade of the same bar."""
    window = Window.partitionBy(*keys).orderBy(*_ORDER)
    previous = F.lag("price").over(window)
    return trades.withColumn("_r2", F.pow(F.log(F.col("price") / previous), 2))


def _ohlcv(keys: tuple[str, ...]) -> list[Column]:
    order = F.struct(*_ORDER)
    notional = F.sum(F.col("price") * F.col("volume"))
    return [
        F.min_by("price", order).alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", order).alias("close"),
        F.sum("volume").alias("volume"),
        (notional / F.sum("volume")).alias("vwap"),
        F.count(F.lit(1)).alias("trade_count"),
        F.sqrt(F.coalesce(F.sum("_r2"), F.lit(0.0))).alias("realized_vol"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    ]


def bars_1m(trades: DataFrame) -> DataFrame:
    """Silver trades -> one bar per (symbol, window_start) minute.

    Columns: symbol, window_start, window_end, trade_date, session (of the first trade),
    open, high, low, close, volume, vwap, trade_count, realized_vol, first_ts, last_ts.
    """
    keyed = trades.withColumn("window_start", F.date_trunc("minute", "ts"))
    order = F.struct(*_ORDER)
    bars = (
        _with_returns(keyed, GOLD_BARS_1M_KEYS)
        .groupBy(*GOLD_BARS_1M_KEYS)
        .agg(
            F.min_by("trade_date", order).alias("trade_date"),
            F.min_by("session", order).alias("session"),
            *_ohlcv(GOLD_BARS_1M_KEYS),
        )
    )
    return bars.select(
        "symbol",
        "window_start",
        (F.col("window_start") + F.expr("INTERVAL 1 MINUTE")).alias("window_end"),
        "trade_date",
        "session",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "vwap",
        "trade_count",
        "realized_vol",
        "first_ts",
        "last_ts",
    )


def bars_daily(trades: DataFrame) -> DataFrame:
    """Silver trades -> one bar per (symbol, trade_date) with the regular-session open/close."""
    regular = F.when(F.col("session") == "regular", F.struct(*_ORDER))
    bars = (
        _with_returns(trades, GOLD_BARS_DAILY_KEYS)
        .groupBy(*GOLD_BARS_DAILY_KEYS)
        .agg(
            *_ohlcv(GOLD_BARS_DAILY_KEYS),
            F.min_by("price", regular).alias("regular_open"),
            F.max_by("price", regular).alias("regular_close"),
        )
    )
    return bars.select(
        "symbol",
        "trade_date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "vwap",
        "trade_count",
        "realized_vol",
        "regular_open",
        "regular_close",
        "first_ts",
        "last_ts",
    )


def affected_minutes(increment: DataFrame) -> DataFrame:
    """Distinct (symbol, window_start) keys touched by a batch of trades."""
    return increment.select("symbol", F.date_trunc("minute", "ts").alias("window_start")).distinct()


def affected_days(increment: DataFrame) -> DataFrame:
    """Distinct (symbol, trade_date) keys touched by a batch of trades."""
    return increment.select("symbol", "trade_date").distinct()
