"""The peer: the medallion a Databricks engineer would write in plain PySpark + delta-spark.

JSON landing -> bronze (Delta append) -> silver (typed, the same validity checks as FinML's
silver but no quarantine table, deduplicated with a Delta MERGE on a trade key) -> gold
(1-minute OHLCV bars by ``groupBy``, overwritten). No bookkeeping: each run re-reads the
whole landing folder and bronze. ``benchmarks/medallion.py`` times it against FinML on the
same landing files; it can also run alone::

    python benchmarks/peer_medallion.py LANDING_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

TRADES = "type string, data array<struct<s:string, p:double, v:double, t:long, c:array<string>>>"


def run(spark, landing: Path, out: Path) -> dict[str, int]:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    bronze_path, silver_path, gold_path = (str(out / n) for n in ("bronze", "silver", "gold"))
    messages = spark.read.schema(TRADES).json(str(landing / "trades"))
    (
        messages.where("type = 'trade'")
        .select(F.explode("data").alias("d"), F.col("_metadata.file_path").alias("_source_file"))
        .select("d.*", "_source_file", F.current_timestamp().alias("_ingested_at"))
        .write.format("delta")
        .mode("append")
        .save(bronze_path)
    )
    bronze = spark.read.format("delta").load(bronze_path)
    typed = bronze.select(
        F.col("s").alias("symbol"),
        F.col("p").alias("price"),
        F.col("v").alias("volume"),
        F.timestamp_millis("t").alias("ts"),
        F.col("c").alias("conditions"),
    )
    valid = typed.where(
        "symbol IS NOT NULL AND length(symbol) BETWEEN 1 AND 12 AND price > 0 "
        "AND isnan(price) = false AND price < 1e9 AND volume >= 0 AND ts IS NOT NULL "
        "AND ts < current_timestamp()"
    )
    conditions = F.array_join(F.sort_array(F.coalesce("conditions", F.array())), ",")
    identity = F.concat_ws("|", "symbol", F.unix_millis("ts"), "price", "volume", conditions)
    keyed = valid.withColumn("trade_id", F.sha2(identity, 256)).dropDuplicates(["trade_id"])
    if DeltaTable.isDeltaTable(spark, silver_path):
        (
            DeltaTable.forPath(spark, silver_path)
            .alias("t")
            .merge(keyed.alias("s"), "t.trade_id = s.trade_id")
            .whenNotMatchedInsertAll()
            .execute()
        )
    else:
        keyed.write.format("delta").save(silver_path)
    silver = spark.read.format("delta").load(silver_path)
    bars = silver.groupBy("symbol", F.window("ts", "1 minute").alias("w")).agg(
        F.min_by("price", "ts").alias("open"),
        F.max("price").alias("high"),
        F.min("price").alias("low"),
        F.max_by("price", "ts").alias("close"),
        F.sum("volume").alias("volume"),
        (F.sum(F.col("price") * F.col("volume")) / F.sum("volume")).alias("vwap"),
        F.count("*").alias("trade_count"),
    )
    gold = bars.select("symbol", F.col("w.start").alias("minute"), *bars.columns[2:])
    gold.write.format("delta").mode("overwrite").save(gold_path)
    return {
        "bronze": spark.read.format("delta").load(bronze_path).count(),
        "silver": silver.count(),
        "gold": spark.read.format("delta").load(gold_path).count(),
    }


if __name__ == "__main__":
    from finml.config import ProjectConfig
    from finml.runtime.spark import get_spark

    session = get_spark(ProjectConfig(), app_name="peer-medallion")
    print(run(session, Path(sys.argv[1]), Path(sys.argv[2])))
