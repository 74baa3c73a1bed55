"""Lakeflow Declarative Pipelines (DLT) definition of the medallion, from the same specs.

:func:`define_pipeline` declares bronze, silver (+ quarantine) and gold with the transforms
and expectations the local runner uses, on any module with the DLT decorator API
(``import dlt`` on Databricks). Quarantine rules become ``expect_all_or_drop`` on silver and
a ``silver_quarantine`` table keeps the rows they drop, with the failed rule names.

Open-source Spark Declarative Pipelines (``pyspark.pipelines``) has no expectations and no
Delta here; where the API lacks ``expect_all*`` the rules are enforced by our own
:func:`~finml.pipelines.expectations.check` inside the table function instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from finml.pipelines import gold
from finml.pipelines.expectations import (
    FAILED_RULES,
    annotate,
    check,
    dlt_expectations,
    expectations_for,
)
from finml.pipelines.trades import (
    SILVER_COLUMNS,
    SILVER_TRADES,
    bronze_trades_from_lines,
    silver_trades,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEDUP_WATERMARK = "2 days"


def _with_expectations(
    dlt: Any, table: str, function: Callable[[], DataFrame]
) -> Callable[[], DataFrame]:
    rules = dlt_expectations(table)
    if not hasattr(dlt, "expect_all"):

        def enforced() -> DataFrame:
            return check(function(), expectations_for(table), table).valid

        enforced.__name__ = function.__name__
        return enforced
    blocking = {**rules["drop"], **rules["quarantine"]}
    for decorator, group in (
        (dlt.expect_all, rules["warn"]),
        (dlt.expect_all_or_drop, blocking),
        (dlt.expect_all_or_fail, rules["fail"]),
    ):
        if group:
            function = decorator(group)(function)
    return function


def define_pipeline(dlt: Any, spark: SparkSession, landing: str) -> None:
    """Declare the medallion tables on ``dlt`` (the DLT module or a compatible API)."""

    @dlt.table(name="bronze_trades", comment="Raw trades, one row per landing record")
    def bronze_trades() -> DataFrame:
        lines = (
            spark.readStream.format("cloudFiles")
            .option("cloudFiles.format", "text")
            .option("pathGlobFilter", "*.jsonl")
            .load(f"{landing}/trades")
        )
        return (
            lines.withColumn("_source_file", F.col("_metadata.file_path"))
            .transform(bronze_trades_from_lines)
            .withColumn("_ingested_at", F.current_timestamp())
            .withColumn("_batch_id", F.lit(None).cast("long"))
        )

    def silver() -> DataFrame:
        candidates = dlt.read_stream("bronze_trades").transform(silver_trades)
        if candidates.isStreaming:  # bounded dedup state on a streaming table
            deduped = candidates.withWatermark("ts", DEDUP_WATERMARK).dropDuplicatesWithinWatermark(
                ["trade_id"]
            )
        else:
            deduped = candidates.dropDuplicates(["trade_id"])
        return deduped.select(*SILVER_COLUMNS)

    silver.__name__ = SILVER_TRADES
    dlt.table(name=SILVER_TRADES, comment="Typed, checked, deduplicated trades")(
        _with_expectations(dlt, SILVER_TRADES, silver)
    )

    @dlt.table(name="silver_quarantine", comment="Trades failing a quarantine rule")
    def silver_quarantine() -> DataFrame:
        rules = expectations_for(SILVER_TRADES)
        quarantining = F.array(*[F.lit(r.name) for r in rules if r.action == "quarantine"])
        annotated = annotate(dlt.read_stream("bronze_trades").transform(silver_trades), rules)
        return annotated.where(F.arrays_overlap(F.col(FAILED_RULES), quarantining))

    def gold_bars_1m() -> DataFrame:
        return dlt.read(SILVER_TRADES).transform(gold.bars_1m)

    def gold_bars_daily() -> DataFrame:
        return dlt.read(gold.GOLD_1M).transform(gold.daily_from_1m)

    # Gold's ohlc_consistent rule has action fail: it stops the update here as in the runner.
    dlt.table(name=gold.GOLD_1M, comment="1-minute OHLCV bars per symbol")(
        _with_expectations(dlt, gold.GOLD_1M, gold_bars_1m)
    )
    dlt.table(name=gold.GOLD_DAILY, comment="Daily OHLCV bars per symbol (rolled up from 1m)")(
        _with_expectations(dlt, gold.GOLD_DAILY, gold_bars_daily)
    )
