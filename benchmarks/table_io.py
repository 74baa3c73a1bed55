"""Delta table layer (delta-rs engine) vs Spark's own Parquet, measured in the same run.

Writes and reads N rows (10 doubles, a long id, a string symbol, a timestamp) through
``finml.runtime.delta`` and through ``df.write.parquet`` / ``spark.read.parquet``; every read
is a full scan touching every column. Aims (issue 2): write <= 1.5x, read <= 1.3x.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import console, parser, progress, report, timed


def main(argv: list[str] | None = None) -> int:
    args = parser(
        __doc__.splitlines()[0], "python benchmarks/table_io.py --rows 1000000", 1_000_000
    ).parse_args(argv)
    from pyspark.sql import functions as F

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    root = Path(tempfile.mkdtemp(prefix="finml-bench-io-"))
    config = ProjectConfig(home=root)
    spark = get_spark(config, app_name="bench-table-io")
    tables = DeltaTables.from_config(config, spark)
    df = (
        spark.range(args.rows)
        .select(
            "id",
            *[(F.rand(i) * 100).alias(f"x{i}") for i in range(10)],
            F.element_at(
                F.array(*[F.lit(s) for s in ("AAPL", "MSFT", "NVDA", "JPM")]),
                (F.col("id") % 4 + 1).cast("int"),
            ).alias("symbol"),
            (F.lit(1_704_067_200) + F.col("id")).cast("timestamp").alias("ts"),
        )
        .cache()
    )
    df.count()  # materialise once: generation is excluded from every measure
    plain, plain_p = str(root / "plain"), str(root / "plain_p")
    full_scan = "sum(hash(*))"

    def fresh(path: str):
        return lambda: shutil.rmtree(path, ignore_errors=True)

    steps = 7 * args.repeat
    with progress() as bar:
        task = bar.add_task(f"table I/O, {args.rows:,} rows", total=steps)
        kw = {"rows": args.rows, "repeat": args.repeat, "bar": bar, "task": task}
        spark_write = timed(
            "spark parquet write", work=lambda: df.write.parquet(plain), setup=fresh(plain), **kw
        )
        layer = tables.table("bench")
        layer_write = timed(
            "layer write (new table)",
            work=lambda: layer.overwrite(df),
            setup=fresh(layer.location),
            **kw,
        )
        spark_pwrite = timed(
            "spark parquet write, partitioned",
            work=lambda: df.write.partitionBy("symbol").parquet(plain_p),
            setup=fresh(plain_p),
            **kw,
        )
        layer_p = tables.table("bench_p")
        layer_pwrite = timed(
            "layer write, partitioned",
            work=lambda: layer_p.overwrite(df, partition_by=("symbol",)),
            setup=fresh(layer_p.location),
            **kw,
        )
        layer.overwrite(df)
        spark_read = timed(
            "spark parquet read",
            work=lambda: spark.read.parquet(plain).selectExpr(full_scan).collect(),
            **kw,
        )
        layer_read = timed(
            "layer read", work=lambda: layer.read().selectExpr(full_scan).collect(), **kw
        )
        layer_travel = timed(
            "layer read version 0",
            work=lambda: layer.read(version=0).selectExpr(full_scan).collect(),
            **kw,
        )
    report(
        "Table IO",
        [
            (layer_write, spark_write, 1.5),
            (layer_pwrite, spark_pwrite, 1.5),
            (layer_read, spark_read, 1.3),
            (layer_travel, spark_read, 1.3),
        ],
        args.out,
        {"rows": args.rows, "engine": tables.engine_name},
    )
    console.print(f"engine: {tables.engine_name}; data under {root} (removed)")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
