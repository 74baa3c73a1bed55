"""Delta tables through both engines (delta-spark, delta-rs) vs Spark's Parquet, one run.

Writes and reads N rows (10 doubles, a long id, a string symbol, a timestamp) through
``finml.runtime.delta`` and through ``df.write.parquet`` / ``spark.read.parquet``; every read
is a full scan touching every column. Aims: delta-spark writes <= 1.2x (issue 11), delta-rs
writes <= 1.5x (issue 2), reads <= 1.3x.
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
    from finml.runtime.delta import DeltaTables, make_engine
    from finml.runtime.spark import get_spark

    root = Path(tempfile.mkdtemp(prefix="finml-bench-io-"))
    config = ProjectConfig(home=root)
    spark = get_spark(config, app_name="bench-table-io")
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

    engines = ("delta-spark", "delta-rs")
    steps = (2 + 5 * len(engines)) * args.repeat
    pairs = []
    with progress() as bar:
        task = bar.add_task(f"table I/O, {args.rows:,} rows", total=steps)
        kw = {"rows": args.rows, "repeat": args.repeat, "bar": bar, "task": task}
        spark_write = timed(
            "spark parquet write", work=lambda: df.write.parquet(plain), setup=fresh(plain), **kw
        )
        spark_pwrite = timed(
            "spark parquet write, partitioned",
            work=lambda: df.write.partitionBy("symbol").parquet(plain_p),
            setup=fresh(plain_p),
            **kw,
        )
        df.write.mode("overwrite").parquet(plain)
        spark_read = timed(
            "spark parquet read",
            work=lambda: spark.read.parquet(plain).selectExpr(full_scan).collect(),
            **kw,
        )
        for engine in engines:
            tables = DeltaTables(make_engine(engine, spark), root / engine, "bench", "io")
            pairs += _engine_pairs(engine, tables, df, kw, (spark_write, spark_pwrite, spark_read))
    report("Table IO", pairs, args.out, {"rows": args.rows, "engines": list(engines)})
    console.print(f"data under {root} (removed)")
    shutil.rmtree(root, ignore_errors=True)
    return 0


def _engine_pairs(engine, tables, df, kw, baselines) -> list:
    """Write (new table, partitioned), read and time-travel through one engine."""
    spark_write, spark_pwrite, spark_read = baselines
    full_scan = "sum(hash(*))"
    layer, layer_p = tables.table("bench"), tables.table("bench_p")

    def drop(table):
        return lambda: table.drop()

    write = timed(
        f"{engine} write (new table)", work=lambda: layer.overwrite(df), setup=drop(layer), **kw
    )
    pwrite = timed(
        f"{engine} write, partitioned",
        work=lambda: layer_p.overwrite(df, partition_by=("symbol",)),
        setup=drop(layer_p),
        **kw,
    )
    layer.drop()
    layer.overwrite(df)
    read = timed(f"{engine} read", work=lambda: layer.read().selectExpr(full_scan).collect(), **kw)
    travel = timed(
        f"{engine} read version 0",
        work=lambda: layer.read(version=0).selectExpr(full_scan).collect(),
        **kw,
    )
    aim_write = 1.2 if engine == "delta-spark" else 1.5
    return [
        (write, spark_write, aim_write),
        (pwrite, spark_pwrite, aim_write),
        (read, spark_read, 1.3),
        (travel, spark_read, 1.3),
    ]


if __name__ == "__main__":
    sys.exit(main())
