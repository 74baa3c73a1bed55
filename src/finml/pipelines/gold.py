"""Gold transforms: OHLCV bars from silver trades (pure ``DataFrame -> DataFrame``).

A bar is a deterministic function of its trades alone. Trades inside a bar are ordered by
``(ts, trade_id)`` (``trade_id`` is unique, so ties on ``ts`` are broken the same way every
run): open/close are the first/last price in that order, and realised volatility is the
square root of the sum of squared log returns between consecutive trades of the bar.

Floating-point sums (volume, notional, squared returns) are taken over a window sorted in
that same order, so their addition order -- and thus every bit of the result -- does not
depend on how the input happens to be partitioned or shuffled. Re-running a bar on the same
trades therefore gives an identical row, which keeps the incremental MERGE into gold a no-op
for untouched bars.
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
_STATS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trade_count",
    "realized_vol",
)


def _window_start(ts: str | Column) -> Column:
    """The minute floor of a timestamp: the key shared by :func:`bars_1m` and the increment."""
    return F.date_trunc("minute", ts)


def _with_ordered_sums(trades: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """Add the bar-wide sums ``_volume``, ``_notional`` and ``_r2`` (squared log returns).

    Each is summed over the bar's trades in ``(ts, trade_id)`` order, so it is bit-identical
    however the input is partitioned; every row of a bar carries the same values.
    """
    ordered = Window.partitionBy(*keys).orderBy(*_ORDER)
    whole_bar = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    log_return = F.log(F.col("price") / F.lag("price").over(ordered))
    # One select, so the three sums share a single Window operator (one pass per bar).
    with_returns = trades.withColumn("_log_return", log_return)
    return with_returns.select(
        "*",
        F.sum("volume").over(whole_bar).alias("_volume"),
        F.sum(F.col("price") * F.col("volume")).over(whole_bar).alias("_notional"),
        F.sum(F.col("_log_return") * F.col("_log_return")).over(whole_bar).alias("_r2"),
    )


def _bar_stats() -> list[Column]:
    """Aggregates over one bar's rows from :func:`_with_ordered_sums` (see ``_STATS``)."""
    first = F.struct(*_ORDER)
    return [
        F.min_by("price", first).alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", first).alias("close"),
        F.max("_volume").alias("volume"),
        (F.max("_notional") / F.max("_volume")).alias("vwap"),
        F.count(F.lit(1)).alias("trade_count"),
        # _r2 is null when the bar has a single trade (no return): 0.0 by definition.
        F.sqrt(F.coalesce(F.max("_r2"), F.lit(0.0))).alias("realized_vol"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    ]


def bars_1m(trades: DataFrame) -> DataFrame:
    """Silver trades -> one 1-minute bar per ``GOLD_BARS_1M_KEYS`` (symbol, window_start).

    Takes the silver trades contract (symbol, trade_id, price, volume, ts, trade_date,
    session; other columns are ignored). Returns symbol, window_start (minute floor of ts),
    window_end (+1 minute), trade_date and session (of the bar's first trade), open, high,
    low, close, volume, vwap, trade_count (long), realized_vol, first_ts, last_ts.
    """
    first = F.struct(*_ORDER)
    keyed = trades.withColumn("window_start", _window_start("ts"))
    bars = (
        _with_ordered_sums(keyed, GOLD_BARS_1M_KEYS)
        .groupBy(*GOLD_BARS_1M_KEYS)
        .agg(
            F.min_by("trade_date", first).alias("trade_date"),
            F.min_by("session", first).alias("session"),
            *_bar_stats(),
        )
    )
    window_end = (F.col("window_start") + F.expr("INTERVAL 1 MINUTE")).alias("window_end")
    return bars.select(
        "symbol",
        "window_start",
        window_end,
        "trade_date",
        "session",
        *_STATS,
        "first_ts",
        "last_ts",
    )


def bars_daily(trades: DataFrame) -> DataFrame:
    """Silver trades -> one daily bar per ``GOLD_BARS_DAILY_KEYS`` (symbol, trade_date).

    ``trade_date`` is the exchange-local (New York) date carried by silver. Returns symbol,
    trade_date, open, high, low, close, volume, vwap, trade_count, realized_vol (over all the
    day's trades, any session), regular_open / regular_close (first / last price with
    session ``"regular"``, null when the day has none), first_ts, last_ts.
    """
    is_regular = F.col("session") == "regular"
    # Value and ordering are both null outside the regular session: min_by/max_by skip
    # null orderings, and a day with no regular trade yields null rather than any price.
    regular_price = F.when(is_regular, F.col("price"))
    regular_order = F.when(is_regular, F.struct(*_ORDER))
    bars = (
        _with_ordered_sums(trades, GOLD_BARS_DAILY_KEYS)
        .groupBy(*GOLD_BARS_DAILY_KEYS)
        .agg(
            *_bar_stats(),
            F.min_by(regular_price, regular_order).alias("regular_open"),
            F.max_by(regular_price, regular_order).alias("regular_close"),
        )
    )
    return bars.select(
        "symbol", "trade_date", *_STATS, "regular_open", "regular_close", "first_ts", "last_ts"
    )


def affected_minutes(increment: DataFrame) -> DataFrame:
    """A batch of new trades -> the distinct (symbol, window_start) bars it touches.

    ``window_start`` is computed exactly as in :func:`bars_1m`, so semi-joining silver on
    these keys selects every trade of each touched minute.
    """
    return increment.select("symbol", _window_start("ts").alias("window_start")).distinct()


def affected_days(increment: DataFrame) -> DataFrame:
    """A batch of new trades -> the distinct (symbol, trade_date) daily bars it touches."""
    return increment.select(*GOLD_BARS_DAILY_KEYS).distinct()
