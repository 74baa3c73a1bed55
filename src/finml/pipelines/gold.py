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

from finml.pipelines import contracts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Names, keys, columns and the ohlc_consistent rule (action fail, so every path that builds
# bars -- runner, DLT, SDP -- stops on a broken bar) are declared in the contracts.
GOLD_1M, GOLD_DAILY = contracts.GOLD_BARS_1M.name, contracts.GOLD_BARS_DAILY.name
# gold_bars_daily.source: bars rolled up from silver trades, or a vendor's daily bar (Alpha
# Vantage, files) for a day without trades. Trade-derived bars replace vendor bars.
TRADES_SOURCE, VENDOR_SOURCE = "trades", "vendor"
GOLD_BARS_1M_KEYS = contracts.GOLD_BARS_1M.keys
GOLD_BARS_DAILY_KEYS = contracts.GOLD_BARS_DAILY.keys
# gold_bars_daily's columns but ``source`` (which the caller adds: trades or vendor).
_DAILY_COLUMNS = contracts.GOLD_BARS_DAILY.column_names[:-1]
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


def _time_first(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Bar keys (symbol, then a time) reordered for a window's ``partitionBy``: the sort a
    window runs is by its partition keys first, and Spark radix-sorts on the first key's
    8-byte prefix -- discriminating for a time or date, useless for a symbol every row of a
    partition shares (which leaves every comparison to the full keys). Same partitions,
    sorted about twice as fast."""
    return (*keys[1:], keys[0])


def _bar_rows(trades: DataFrame, keys: tuple[str, ...], extra: dict[str, Column]) -> DataFrame:
    """One row per bar: the bar's first trade carrying whole-bar window values.

    Two window operators share one sort by ``(keys time first, ts, trade_id)``: the first adds each
    trade's position and previous price, the second the whole-bar values -- sums (in that
    order, so bit-identical however the input is partitioned), first/last price, extremes,
    counts and ``extra``. Keeping the position-1 row then needs no aggregation, so no second
    sort and no comparisons of ``(ts, trade_id)`` structs.
    """
    ordered = Window.partitionBy(*_time_first(keys)).orderBy(*_ORDER)
    whole_bar = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    positioned = trades.select(
        "*",
        F.row_number().over(ordered).alias("_position"),
        F.log(F.col("price") / F.lag("price").over(ordered)).alias("_log_return"),
    )
    volume = F.sum("volume").over(whole_bar)
    notional = F.sum(F.col("price") * F.col("volume")).over(whole_bar)
    squared_returns = F.sum(F.col("_log_return") * F.col("_log_return")).over(whole_bar)
    bars = positioned.select(
        *keys,
        "_position",
        F.first("price").over(whole_bar).alias("open"),
        F.max("price").over(whole_bar).alias("high"),
        F.min("price").over(whole_bar).alias("low"),
        F.last("price").over(whole_bar).alias("close"),
        volume.alias("volume"),
        F.try_divide(notional, volume).alias("vwap"),  # null when volume is 0
        F.count(F.lit(1)).over(whole_bar).alias("trade_count"),
        # no return when the bar has a single trade: 0.0 by definition.
        F.sqrt(F.coalesce(squared_returns, F.lit(0.0))).alias("realized_vol"),
        F.first("ts").over(whole_bar).alias("first_ts"),
        F.last("ts").over(whole_bar).alias("last_ts"),
        *[column.over(whole_bar).alias(name) for name, column in extra.items()],
    )
    # keeps ``_position``: the callers select their columns (no ``drop``, which a
    # declarative pipeline plans eagerly and fails on a dataset read)
    return bars.where(F.col("_position") == 1)


def bars_1m(trades: DataFrame) -> DataFrame:
    """Silver trades -> one 1-minute bar per ``GOLD_BARS_1M_KEYS`` (symbol, window_start).

    Takes the silver trades contract (symbol, trade_id, price, volume, ts, trade_date,
    session; other columns are ignored). Returns symbol, window_start (minute floor of ts),
    window_end (+1 minute), trade_date and session (of the bar's first trade), open, high,
    low, close, volume, vwap, trade_count (long), realized_vol, first_ts, last_ts.
    """
    keyed = trades.withColumn("window_start", _window_start("ts"))
    bars = _bar_rows(
        keyed,
        GOLD_BARS_1M_KEYS,
        {"trade_date": F.first("trade_date"), "session": F.first("session")},
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
    """Silver trades -> one daily bar per ``GOLD_BARS_DAILY_KEYS`` (symbol, trade_date): the
    day's :func:`bars_1m` rolled up by :func:`daily_from_1m` (see there for the columns)."""
    return daily_from_1m(bars_1m(trades))


def daily_from_1m(minutes: DataFrame) -> DataFrame:
    """1-minute bars -> one daily bar per ``GOLD_BARS_DAILY_KEYS`` (symbol, trade_date).

    A minute never straddles a New York date or a session (both change on whole minutes,
    and New York's UTC offset is whole hours), so a day's bar is a roll-up of its minutes,
    taken in ``window_start`` order: open / close of the first / last minute, extremes,
    summed volume, notional (``vwap * volume``) and trade count. The day's squared log
    returns are each minute's (``realized_vol**2``) plus the return across each boundary
    between consecutive minutes (first price of one over last price of the one before), so
    realised volatility is the same as over the day's trades, up to rounding.
    ``regular_open`` / ``regular_close`` are the first / last price in the regular session
    (null when the day has none). This reads about 1/10 of the rows the trades would need
    and sorts no trade twice.

    Returns symbol, trade_date, open, high, low, close, volume, vwap, trade_count (long),
    realized_vol, regular_open, regular_close, first_ts, last_ts.
    """
    ordered = Window.partitionBy(*_time_first(GOLD_BARS_DAILY_KEYS)).orderBy("window_start")
    whole_day = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    boundary = F.log(F.col("open") / F.lag("close").over(ordered))
    squared_returns = F.col("realized_vol") * F.col("realized_vol") + F.coalesce(
        boundary * boundary, F.lit(0.0)
    )
    positioned = minutes.select(
        "*",
        F.row_number().over(ordered).alias("_position"),
        squared_returns.alias("_squared_returns"),
    )
    regular = F.col("session") == "regular"
    volume = F.sum("volume").over(whole_day)
    notional = F.sum(F.col("vwap") * F.col("volume")).over(whole_day)
    days = positioned.select(
        *GOLD_BARS_DAILY_KEYS,
        "_position",
        F.first("open").over(whole_day).alias("open"),
        F.max("high").over(whole_day).alias("high"),
        F.min("low").over(whole_day).alias("low"),
        F.last("close").over(whole_day).alias("close"),
        volume.alias("volume"),
        F.try_divide(notional, volume).alias("vwap"),  # null when volume is 0
        F.sum("trade_count").over(whole_day).cast("long").alias("trade_count"),
        F.sqrt(F.sum("_squared_returns").over(whole_day)).alias("realized_vol"),
        F.first(F.when(regular, F.col("open")), ignorenulls=True)
        .over(whole_day)
        .alias("regular_open"),
        F.last(F.when(regular, F.col("close")), ignorenulls=True)
        .over(whole_day)
        .alias("regular_close"),
        F.first("first_ts").over(whole_day).alias("first_ts"),
        F.last("last_ts").over(whole_day).alias("last_ts"),
    )
    return days.where(F.col("_position") == 1).select(*_DAILY_COLUMNS)


def affected_minutes(increment: DataFrame) -> DataFrame:
    """A batch of new trades -> the distinct (symbol, window_start) bars it touches.

    ``window_start`` is computed exactly as in :func:`bars_1m`, so semi-joining silver on
    these keys selects every trade of each touched minute.
    """
    return increment.select("symbol", _window_start("ts").alias("window_start")).distinct()


def affected_days(increment: DataFrame) -> DataFrame:
    """A batch of new trades -> the distinct (symbol, trade_date) daily bars it touches."""
    return increment.select(*GOLD_BARS_DAILY_KEYS).distinct()
