"""Vendor bars (Alpha Vantage CSV, files): bronze -> typed silver bars and the gold daily rows
they provide (pure ``DataFrame -> DataFrame``).

Bronze bars hold each CSV line's fields as text, the symbol taken from the file name
(``daily_<SYMBOL>.csv``, ``intraday_<interval>_<SYMBOL>.csv``). Silver types them: the bar's
interval (``1d`` or the intraday one), its New York date and UTC start (Alpha Vantage
stamps intraday bars in US/Eastern time), prices and volume as numbers, and when it was
fetched. A bar fetched again (a later collection, a corrected file) replaces the earlier
fetch: silver bars are keyed by (symbol, interval, bar_start), the latest fetch wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from finml.pipelines import contracts
from finml.pipelines.gold import VENDOR_SOURCE
from finml.pipelines.trades import EXCHANGE_TZ

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Names, keys, columns and rules are declared in the contracts (finml.pipelines.contracts).
SILVER_BARS = contracts.SILVER_BARS.name
BARS_QUARANTINE = contracts.SILVER_BARS_QUARANTINE.name
BAR_KEYS = contracts.SILVER_BARS.keys
PRICES = ("open", "high", "low", "close")
SILVER_BAR_COLUMNS = contracts.SILVER_BARS.column_names
_INTERVAL = r"(?:^|/)(?:[^/]*_)?(?:daily|intraday_(\w+?))_[A-Za-z0-9.\-]+\.csv$"


def typed_bars(bronze: DataFrame) -> DataFrame:
    """Bronze bars -> the typed columns the rules read (casts only; nothing dropped).

    Returns symbol, interval, bar_start (UTC), bar_date (New York), open, high, low, close,
    volume, the raw ``timestamp`` and bronze's ``_`` columns. Dates parse as
    ``yyyy-MM-dd``, intraday times as ``yyyy-MM-dd HH:mm:ss`` New York time; anything else
    (and any non-number) becomes NULL for the rules to name.
    """
    interval = F.regexp_extract("_source_file", _INTERVAL, 1)
    daily = F.regexp_extract("_source_file", r"(?:^|[/_])daily_[^/]*\.csv$", 0) != ""
    intraday = F.regexp_extract("_source_file", r"(?:^|[/_])intraday_[^/]*\.csv$", 0) != ""
    day = F.expr("try_to_timestamp(timestamp, 'yyyy-MM-dd')")
    local = F.expr("try_to_timestamp(timestamp, 'yyyy-MM-dd HH:mm:ss')")
    local_start = F.when(daily, day).when(intraday, local)
    infinite = F.lit(float("inf"))

    def number(name: str) -> Column:
        value = F.expr(f"try_cast({name} AS DOUBLE)")
        return F.when(~F.isnan(value) & (F.abs(value) < infinite), value)

    return bronze.select(
        "symbol",
        F.when(daily, F.lit("1d")).when(intraday & (interval != ""), interval).alias("interval"),
        F.to_utc_timestamp(local_start, EXCHANGE_TZ).alias("bar_start"),
        F.to_date(local_start).alias("bar_date"),
        *[number(p).alias(p) for p in PRICES],
        F.expr("try_cast(volume AS DOUBLE)").alias("volume"),
        "timestamp",
        "_raw",
        "_parse_error",
        "_source_file",
        "_batch_id",
        "_ingested_at",
    )


def latest_fetch(bars: DataFrame) -> DataFrame:
    """One row per ``BAR_KEYS``: the latest fetch (ingestion time, then file name -- the
    collectors' file names start with their fetch time); returns silver bars' columns."""
    latest = Window.partitionBy(*BAR_KEYS).orderBy(
        F.col("_ingested_at").desc(), F.col("_source_file").desc()
    )
    return (
        bars.select("*", F.row_number().over(latest).alias("_fetch"))
        .where(F.col("_fetch") == 1)
        .select(*SILVER_BAR_COLUMNS)
    )


def vendor_daily(bars: DataFrame) -> DataFrame:
    """Silver daily bars -> rows of ``gold_bars_daily`` (source ``vendor``): the vendor's
    OHLCV, and NULL for what only trades can give (vwap, counts, realised volatility)."""
    return bars.where(F.col("interval") == "1d").select(
        "symbol",
        F.col("bar_date").alias("trade_date"),
        *PRICES,
        "volume",
        F.lit(None).cast("double").alias("vwap"),
        F.lit(None).cast("long").alias("trade_count"),
        F.lit(None).cast("double").alias("realized_vol"),
        F.lit(None).cast("double").alias("regular_open"),
        F.lit(None).cast("double").alias("regular_close"),
        F.lit(None).cast("timestamp").alias("first_ts"),
        F.lit(None).cast("timestamp").alias("last_ts"),
        F.lit(VENDOR_SOURCE).alias("source"),
    )
