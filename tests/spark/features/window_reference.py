"""The original window-function build of the trade features (one Spark task per symbol),
kept as the reference the time-chunked :func:`finml.features.indicators.trade_features` is
compared with (tests/spark/features/test_chunked.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import Column, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from finml.features.frame import EXCHANGE_TZ, KEYS, SESSION_CODES, feature_names, truncated_ema
from finml.features.settings import FeatureSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.window import WindowSpec

_US = 1_000_000


def _rows(spec: WindowSpec, start: int, end: int = 0) -> WindowSpec:
    return spec.rowsBetween(start, end)


def _macd(settings: FeatureSettings) -> Callable[[pd.DataFrame], pd.DataFrame]:
    # An EMA is recursive, not a window aggregate: as a sum of ~100 lag() columns Spark
    # spent minutes compiling it, so one symbol's ordered trades go through numpy instead.
    s = settings

    def add(trades: pd.DataFrame) -> pd.DataFrame:
        trades = trades.sort_values(["ts", "trade_id"], kind="stable")
        price = trades["price"].to_numpy(dtype=float)
        slow = truncated_ema(price, s.macd_slow, s.ema_horizon)
        macd = (truncated_ema(price, s.macd_fast, s.ema_horizon) - slow) / slow
        signal = truncated_ema(macd, s.macd_signal, s.ema_horizon)
        return trades.assign(macd=macd, macd_signal=signal, macd_hist=macd - signal)

    return add


def _zscore(column: str, spec: WindowSpec, window: int) -> Column:
    previous = _rows(spec, -window, -1)
    sd = F.stddev_samp(column).over(previous)
    return F.when(sd > 0, (F.col(column) - F.avg(column).over(previous)) / sd)


def _count_within(seconds: int, ordinal: str, symbol_time: WindowSpec) -> Column:
    # Rows with ts in [t - s, t]: the earliest such row's ordinal bounds the count. Later
    # rows tied on ts do not change that minimum, so the count stays point-in-time.
    frame = symbol_time.rangeBetween(-seconds * _US, 0)
    return (F.col(ordinal) - F.min(ordinal).over(frame) + 1).cast("double")


def _vwap_dist(spec: WindowSpec) -> Column:
    vwap = F.sum(F.col("price") * F.col("volume")).over(spec) / F.sum("volume").over(spec)
    return F.log(F.col("price") / vwap)


def window_features(settings: FeatureSettings) -> Callable[[DataFrame], DataFrame]:
    """The whole-history window-function build: same input and output as
    :func:`finml.features.indicators.trade_features`."""

    def transform(trades: DataFrame) -> DataFrame:
        seq = Window.partitionBy("symbol").orderBy("ts", "trade_id")
        stage = _sequence_columns(trades, seq).select(
            "*", *_price_indicators(settings, seq), *_activity_indicators(settings, seq)
        )
        stage = _with_stale_repeat(stage, settings.stale_lookback)
        return _with_macd(stage, settings)

    return transform


def _sequence_columns(trades: DataFrame, seq: WindowSpec) -> DataFrame:
    """The trades' columns the indicators need, with each trade's step from the previous
    one: ``log_return``, ``_diff``, ``log_volume``, ``_ordinal``, ``gap_s``."""
    return trades.select(
        *KEYS,
        "price",
        "volume",
        "trade_date",
        "session",
        F.unix_micros("ts").alias("_ts_us"),
    ).select(
        "*",
        F.log(F.col("price") / F.lag("price").over(seq)).alias("log_return"),
        (F.col("price") - F.lag("price").over(seq)).alias("_diff"),
        F.log("volume").alias("log_volume"),
        F.row_number().over(seq).alias("_ordinal"),
        ((F.col("_ts_us") - F.lag("_ts_us").over(seq)) / _US).alias("gap_s"),
    )


def _price_indicators(s: FeatureSettings, seq: WindowSpec) -> list[Column]:
    """``vol_N``, ``rsi``, ``bb_pct_b``, ``return_z`` and ``volume_z``."""
    bb = _rows(seq, -(s.bollinger_period - 1))
    bb_sd = F.stddev_pop("price").over(bb)
    rsi = _rows(seq, -(s.rsi_period - 1))
    gains = F.sum(F.greatest("_diff", F.lit(0.0))).over(rsi)
    losses = F.sum(F.greatest(-F.col("_diff"), F.lit(0.0))).over(rsi)
    return [
        *[
            F.stddev_samp("log_return").over(_rows(seq, -(w - 1))).alias(f"vol_{w}")
            for w in s.vol_windows
        ],
        F.when(gains + losses > 0, 100.0 * gains / (gains + losses)).alias("rsi"),
        F.when(
            bb_sd > 0,
            (F.col("price") - F.avg("price").over(bb) + s.bollinger_width * bb_sd)
            / (2.0 * s.bollinger_width * bb_sd),
        ).alias("bb_pct_b"),
        _zscore("log_return", seq, s.zscore_window).alias("return_z"),
        _zscore("log_volume", seq, s.zscore_window).alias("volume_z"),
    ]


def _activity_indicators(s: FeatureSettings, seq: WindowSpec) -> list[Column]:
    """``trades_1s``, ``trades_60s``, ``vwap_dist_day``, ``vwap_dist_20``,
    ``spread_proxy``, ``time_of_day`` and ``session_code``."""
    by_time = Window.partitionBy("symbol").orderBy("_ts_us")
    day = Window.partitionBy("symbol", "trade_date").orderBy("ts", "trade_id")
    rng = _rows(seq, -(s.range_window - 1))
    local = F.from_utc_timestamp("ts", EXCHANGE_TZ)
    return [
        _count_within(1, "_ordinal", by_time).alias("trades_1s"),
        _count_within(60, "_ordinal", by_time).alias("trades_60s"),
        _vwap_dist(_rows(day, Window.unboundedPreceding, -1)).alias("vwap_dist_day"),
        _vwap_dist(_rows(seq, -s.range_window, -1)).alias("vwap_dist_20"),
        ((F.max("price").over(rng) - F.min("price").over(rng)) / F.avg("price").over(rng)).alias(
            "spread_proxy"
        ),
        ((F.unix_micros(local) - F.unix_micros(F.date_trunc("day", local))) / (86_400 * _US)).alias(
            "time_of_day"
        ),
        _session_code(F.col("session")).alias("session_code"),
    ]


def _with_macd(stage: DataFrame, s: FeatureSettings) -> DataFrame:
    """The features without MACD -> the output: MACD added per symbol in pandas, the keys,
    ``_trade_date`` and :func:`feature_names`, all double."""
    names = [c for c in feature_names(s) if not c.startswith("macd")]
    stage = stage.select(*KEYS, "trade_date", "price", *names)
    extra = [StructField(c, DoubleType()) for c in ("macd", "macd_signal", "macd_hist")]
    schema = StructType([*stage.schema.fields, *extra])
    out = stage.groupBy("symbol").applyInPandas(_macd(s), schema)
    return out.select(
        *KEYS,
        F.col("trade_date").alias("_trade_date"),
        *[F.col(c).cast("double").alias(c) for c in feature_names(s)],
    )


def _with_stale_repeat(trades: DataFrame, lookback: int) -> DataFrame:
    # An equi-join on (symbol, price): exact repeats are rare, so the join stays small,
    # where scanning a 500-trade collect_list per row would not.
    earlier = trades.select("symbol", "price", F.col("_ordinal").alias("_earlier"))
    lag = F.col("_ordinal") - F.col("_earlier")
    repeats = (
        trades.select("symbol", "price", "_ordinal")
        .join(earlier, ["symbol", "price"])
        .where((lag >= 1) & (lag <= lookback))
        .select("symbol", "_ordinal", F.lit(1.0).alias("stale_repeat"))
        .distinct()
    )
    joined = trades.join(repeats, ["symbol", "_ordinal"], "left")
    return joined.withColumn("stale_repeat", F.coalesce("stale_repeat", F.lit(0.0)))


def _session_code(session: Column) -> Column:
    code = F.lit(None).cast("double")
    for name, value in reversed(SESSION_CODES.items()):
        code = F.when(session == name, F.lit(float(value))).otherwise(code)
    return code
