"""Landing -> gold through FinML's medallion vs a bare PySpark job, measured in the same run.

Both read the same simulated Finnhub JSONL landing files. The bare job parses the messages,
explodes the trades, types them and writes one Parquet table (the floor on this machine).
Both are timed warm (each runs once before, into a throw-away output); the first, cold run
of FinML is reported too.
FinML runs exactly-once ingestion into bronze, silver with expectations, quarantine and
deduplication, and gold 1-minute and daily bars, all Delta. Aim (issue 3): <= 3x.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Measure, console, parser, progress, report


def bare_job(spark, landing: Path, out: Path) -> None:
    from pyspark.sql import functions as F

    messages = spark.read.schema(
        "type string, data array<struct<s:string, p:double, v:double, t:long, c:array<string>>>"
    ).json(str(landing / "trades"))
    trades = (
        messages.where("type = 'trade'")
        .select(F.explode("data").alias("d"))
        .select(
            F.col("d.s").alias("symbol"),
            F.col("d.p").alias("price"),
            F.col("d.v").alias("volume"),
            F.timestamp_millis("d.t").alias("ts"),
            F.col("d.c").alias("conditions"),
        )
    )
    trades.write.mode("overwrite").parquet(str(out))


def main(argv: list[str] | None = None) -> int:
    args = parser(
        __doc__.splitlines()[0], "python benchmarks/medallion.py --rows 1000000", 1_000_000
    ).parse_args(argv)
    args.repeat = min(args.repeat, 1) or 1
    from finml.config import ProjectConfig
    from finml.jobs.data import run_simulation
    from finml.pipelines.medallion import run_medallion
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark
    from finml.sources.sim_config import SimulatorConfig

    root = Path(tempfile.mkdtemp(prefix="finml-bench-medallion-"))
    source = ProjectConfig(home=root / "source")
    per_day = max(10, int(args.rows / (30 * 4 * 1.7)))
    sim = SimulatorConfig(days=30, trades_per_day=per_day)
    summary = run_simulation(source, DeltaTables.from_config(source, None), sim)
    records = summary.manifest.records
    console.print(f"landing: {records:,} records ({summary.trades:,} legit trades)")
    spark = get_spark(source, app_name="bench-medallion")
    with progress() as bar:
        task = bar.add_task("medallion vs bare job", total=6)
        # Both sides are timed warm: each runs once first (JIT, code generation, file
        # listing), into its own throw-away output.
        bare_job(spark, source.landing_dir, root / "bare-warm-up")
        bar.advance(task)
        started = time.perf_counter()
        bare_job(spark, source.landing_dir, root / "bare")
        bare = Measure("bare PySpark JSON->Parquet", time.perf_counter() - started, 0, records)
        bar.advance(task)
        warm_up = ProjectConfig(home=root / "warm-up", landing=source.landing_dir)
        started = time.perf_counter()
        first = run_medallion(warm_up, spark, DeltaTables.from_config(warm_up, spark))
        cold = time.perf_counter() - started
        bar.advance(task)
        shutil.rmtree(root / "warm-up", ignore_errors=True)
        bar.advance(task)
        config = ProjectConfig(home=root / "run", landing=source.landing_dir)
        tables = DeltaTables.from_config(config, spark)
        started = time.perf_counter()
        result = run_medallion(config, spark, tables)
        ours = Measure("finml landing->gold", time.perf_counter() - started, 0, records)
        bar.advance(task)
        started = time.perf_counter()
        again = run_medallion(config, spark, tables)
        rerun = time.perf_counter() - started
        bar.advance(task)
    stages = {k: round(v, 2) for k, v in result.seconds.items()}
    cold_stages = {k: round(v, 2) for k, v in first.seconds.items()}
    if first.counts != result.counts:
        raise SystemExit(f"warm-up and timed runs differ: {first.counts} vs {result.counts}")
    report(
        "Medallion",
        [(ours, bare, 3.0)],
        args.out,
        {
            "records": records,
            "stages_seconds": stages,
            "first_run_seconds": round(cold, 2),
            "first_run_stages_seconds": cold_stages,
            "rerun_nothing_new_seconds": rerun,
            "counts": result.counts,
        },
    )
    console.print(
        f"where the time goes (s): {stages}; re-run with nothing new: {rerun:.2f} s; "
        f"second run committed {len(again.quality)} stage(s); first (cold) run of the "
        f"session: {cold:.1f} s {cold_stages}"
    )
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
