"""A separate writer process for the integration tests (run with ``python -m``-style path).

Usage: writer_process.py HOME MODE WORKER COUNT [ENGINE [JAR ...]]
  MODE arrow: COUNT small appends of 10 rows through the layer (no Spark), tagged by WORKER.
  MODE spark: COUNT appends of 200k rows through the layer's parallel Spark path.
  MODE txn: COUNT idempotent appends of 10 rows, batch i with Txn("shared", i), which every
    worker writes too (the same batches, racing): each batch must land exactly once. ENGINE
    delta-rs (no Spark) or delta-spark (a local Spark session with the JARs).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(home: str, mode: str, worker: int, count: int, engine: str, jars: list[str]) -> None:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig(home=Path(home), delta_engine=engine, delta_jars=jars)
    if mode == "arrow":
        import pyarrow as pa

        table = DeltaTables.from_config(config, None).table("concurrent")
        for i in range(count):
            batch = pa.table({"worker": [worker] * 10, "seq": [i] * 10, "n": list(range(10))})
            table.append(batch)
        return
    if mode == "txn":
        import pyarrow as pa

        from finml.runtime.delta import Txn

        spark = None
        if engine == "delta-spark":
            from finml.runtime.spark import get_spark

            spark = get_spark(config)
        table = DeltaTables.from_config(config, spark).table("raced")
        for i in range(count):
            batch = pa.table({"worker": [worker] * 10, "seq": [i] * 10, "n": list(range(10))})
            result = table.append(batch, txn=Txn("shared", i))
            print(f"batch {i} skipped={result.skipped}", flush=True)
        return
    from pyspark.sql import functions as F

    from finml.runtime.spark import get_spark

    spark = get_spark(config)
    table = DeltaTables.from_config(config, spark).table("killed")
    for i in range(count):
        df = spark.range(200_000).select(
            F.lit(i).alias("batch"), "id", (F.rand(i) * 100).alias("x"), F.uuid().alias("u")
        )
        table.append(df)
        print(f"committed {i}", flush=True)


if __name__ == "__main__":
    engine = sys.argv[5] if len(sys.argv) > 5 else "delta-rs"
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), engine, sys.argv[6:])
