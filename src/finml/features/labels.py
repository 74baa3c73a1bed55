"""Anomaly labels per trade: the simulator's ground truth, else a documented rule.

Ground truth (``sim_truth_trades``) is matched to silver trades on the print's identity
``(symbol, epoch ms, price, volume)``. The simulator makes that identity unique, but the
landing zone replays some prints (``duplicate_trade``) and silver may keep two trades with
the same print and different conditions: truth rows are therefore reduced to one per
identity first, so a join can never multiply trades, and every silver trade with that print
gets its label. Trades without a matching truth row get no label (reported, not guessed).

Without ground truth the rule labels a trade anomalous when ``|return_z|`` or ``|volume_z|``
exceeds ``label_rule_z``; those two columns are then excluded from the model features
(:data:`RULE_INPUTS`), otherwise the model would just relearn the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LABEL = "label"
RULE_INPUTS = ("return_z", "volume_z")
_IDENTITY = ("symbol", "_ts_ms", "price", "volume")


def truth_labels(truth: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """A transform from silver trades to ``(symbol, ts, trade_id, label)`` using the
    simulator's ``truth`` (symbol, ts_ms, price, volume, is_anomaly); trades without a
    matching truth row are dropped."""

    def transform(trades: DataFrame) -> DataFrame:
        # One truth row per print identity (max: an anomaly print wins over a clean copy).
        prints = truth.groupBy("symbol", F.col("ts_ms").alias("_ts_ms"), "price", "volume").agg(
            F.max(F.col("is_anomaly").cast("int")).alias(LABEL)
        )
        keyed = trades.select(
            "symbol", "ts", "trade_id", "price", "volume", F.unix_millis("ts").alias("_ts_ms")
        )
        return keyed.join(prints, list(_IDENTITY), "inner").select(
            "symbol", "ts", "trade_id", F.col(LABEL).cast("int").alias(LABEL)
        )

    return transform


def rule_labels(threshold: float) -> Callable[[DataFrame], DataFrame]:
    """A transform from trade features to ``(symbol, ts, trade_id, label)``: 1 where
    ``|return_z|`` or ``|volume_z|`` exceeds ``threshold`` (nulls count as not exceeded)."""

    def transform(features: DataFrame) -> DataFrame:
        flagged = F.lit(False)
        for column in RULE_INPUTS:
            flagged = flagged | F.coalesce(F.abs(F.col(column)) > threshold, F.lit(False))
        return features.select("symbol", "ts", "trade_id", flagged.cast("int").alias(LABEL))

    return transform
