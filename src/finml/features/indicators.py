"""Trade-sequence indicators: one feature row per silver trade (pure ``DataFrame -> DataFrame``).

Every indicator is a function of the trades of one symbol ordered by ``(ts, trade_id)``
(``trade_id`` breaks ties the same way every run) that ends at the current row, so a row only
ever sees its own trade and earlier trades of the same symbol: the features are point-in-time
by construction and never cross symbols.

The build runs per (symbol, trading day) so one symbol's history spreads over many tasks:
each day's trades go, with a lookback *halo* of earlier trades of the symbol (at least
``FeatureSettings.lookback_rows`` of them, and every trade within 60 s of the day's first
one), through the vectorised pandas definitions of :mod:`finml.features.frame`; only the
day's own rows come out, equal to a whole-history computation. The halo is planned from a
per-(symbol, day) aggregate (:mod:`finml.features.halo`), lazily, with public DataFrame APIs
only (Spark Connect and serverless run it).

Definitions (``r`` = log return to the previous trade, ``p`` = price, windows count trades):

* ``vol_N``: sample standard deviation of the last N returns (null below two returns).
* ``rsi``: Cutler's RSI, ``100 * gains / (gains + losses)`` of price changes over the last
  ``rsi_period`` trades (a bounded window; Wilder's recursive smoothing is not a window).
* ``macd``: ``(EMA_fast(p) - EMA_slow(p)) / EMA_slow(p)``; ``macd_signal`` its EMA, ``macd_hist``
  their difference. An EMA of span s is the normalised exponentially weighted mean
  (``alpha = 2 / (s + 1)``, pandas ``ewm(adjust=True)``) over the last ``ema_horizon * s``
  trades.
* ``bb_pct_b``: Bollinger %B, ``(p - m + k*sd) / (2*k*sd)`` with mean and population sd of the
  last ``bollinger_period`` prices.
* ``return_z`` / ``volume_z``: z-score of r / ln(volume) against the previous
  ``zscore_window`` trades (the current trade excluded, so a spike cannot hide itself).
* ``gap_s``: seconds since the previous trade; ``trades_1s`` / ``trades_60s``: trades in the
  last 1 / 60 seconds up to and including this one (ties on ``ts`` counted only if earlier
  in the order).
* ``vwap_dist_day`` / ``vwap_dist_20``: ``ln(p / VWAP)`` of the earlier trades of the New-York
  day / of the previous ``range_window`` trades.
* ``spread_proxy``: ``(max p - min p) / mean p`` over the last ``range_window`` trades.
* ``stale_repeat``: 1 if the exact price was printed by one of the previous
  ``stale_lookback`` trades of the symbol, else 0 (a replayed old print; with continuous
  mid prices and 4 decimals exact repeats are otherwise rare).
* ``time_of_day``: New-York wall-clock time as a fraction of the day; ``session_code``
  pre 0, regular 1, post 2, closed 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType

from finml.features.frame import (
    EXCHANGE_TZ,
    KEYS,
    SESSION_CODES,
    feature_names,
    sequence_features,
    truncated_ema,
)
from finml.features.halo import with_halo
from finml.features.settings import FeatureSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "EXCHANGE_TZ",
    "KEYS",
    "SESSION_CODES",
    "chunked_trades",
    "feature_names",
    "trade_features",
    "truncated_ema",
]

_US = 1_000_000
_ROW_WISE = ("time_of_day", "session_code")
_CARRIED = ("symbol", "trade_id", "_ts_us", "_day")


def chunked_trades(settings: FeatureSettings) -> Callable[[DataFrame], DataFrame]:
    """Silver trades -> the rows the grouped build sees: each trade once in its own chunk
    (``_chunk`` = its ``trade_date``, ``_halo`` false) and again, ``_halo`` true, in every
    later chunk of its symbol whose lookback needs it. Columns: symbol, trade_id, ``_ts_us``
    (UTC microseconds), ``_day`` (the trade_date as days since the epoch), price, volume,
    ``time_of_day``, ``session_code``, ``_chunk``, ``_halo``."""

    def transform(trades: DataFrame) -> DataFrame:
        local = F.from_utc_timestamp("ts", EXCHANGE_TZ)
        staged = trades.select(
            "symbol",
            "trade_id",
            F.unix_micros("ts").alias("_ts_us"),
            "trade_date",
            F.col("price").cast("double").alias("price"),
            F.col("volume").cast("double").alias("volume"),
            ((F.unix_micros(local) - F.unix_micros(F.date_trunc("day", local))) / (86_400 * _US))
            .cast("double")
            .alias("time_of_day"),
            _session_code(F.col("session")).alias("session_code"),
        )
        return (
            with_halo(staged, settings.lookback_rows)
            .withColumn("_day", F.unix_date("trade_date"))
            .drop("trade_date")
        )

    return transform


def _chunk_features(settings: FeatureSettings) -> Callable[[pd.DataFrame], pd.DataFrame]:
    names = [n for n in feature_names(settings) if n not in _ROW_WISE]

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values(["_ts_us", "trade_id"], kind="stable")
        found = sequence_features(
            rows["_ts_us"].to_numpy(),
            rows["price"].to_numpy(float),
            rows["volume"].to_numpy(float),
            rows["_day"].to_numpy(),
            settings,
        )
        own = ~rows["_halo"].to_numpy(bool)
        out = rows.loc[own, list(_CARRIED)].reset_index(drop=True)
        computed = pd.DataFrame({n: found[n][own] for n in names})
        row_wise = rows.loc[own, list(_ROW_WISE)].reset_index(drop=True)
        return pd.concat([out, computed, row_wise], axis=1)[[*_CARRIED, *feature_names(settings)]]

    return run


def trade_features(settings: FeatureSettings) -> Callable[[DataFrame], DataFrame]:
    """A transform from silver trades (symbol, ts, trade_id, price, volume, trade_date,
    session) to one row per trade: the keys, ``_trade_date`` and :func:`feature_names`
    (all double). Use as ``silver.transform(trade_features(settings))``. One pandas group
    per (symbol, trading day): see the module docstring."""
    schema = StructType(
        [
            StructField("symbol", StringType()),
            StructField("trade_id", StringType()),
            StructField("_ts_us", LongType()),
            StructField("_day", IntegerType()),
            *[StructField(n, DoubleType()) for n in feature_names(settings)],
        ]
    )

    def transform(trades: DataFrame) -> DataFrame:
        rows = trades.transform(chunked_trades(settings))
        out = rows.groupBy("symbol", "_chunk").applyInPandas(_chunk_features(settings), schema)
        return out.select(
            "symbol",
            F.timestamp_micros("_ts_us").alias("ts"),
            "trade_id",
            F.date_from_unix_date("_day").alias("_trade_date"),
            *feature_names(settings),
        )

    return transform


def _session_code(session: Column) -> Column:
    code = F.lit(None).cast("double")
    for name, value in reversed(SESSION_CODES.items()):
        code = F.when(session == name, F.lit(float(value))).otherwise(code)
    return code
