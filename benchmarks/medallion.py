"""Landing -> gold: FinML's medallion on each Delta engine vs the peer, in one run.

All read the same simulated Finnhub JSONL landing files. The **peer** is the medallion a
Databricks engineer would write in plain PySpark + delta-spark (``peer_medallion.py``: bronze
append, silver MERGE-dedup with the same checks but no quarantine, gold 1-minute bars by
``groupBy``); the **bare job** parses, types and writes one Parquet table (the floor). Every
side is timed warm (each runs once before, into a throw-away output); FinML's first, cold
run per engine is reported too. FinML runs exactly-once ingestion into bronze, silver with
expectations, quarantine and deduplication, and gold 1-minute and daily bars, all Delta.
Aims: <= 1.5x the peer (issue 11), <= 3x the bare job (issue 3).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_medallion
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
    from finml.config_simulator import SimulatorConfig
    from finml.jobs.data import run_simulation
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    root = Path(tempfile.mkdtemp(prefix="finml-bench-medallion-"))
    source = ProjectConfig(home=root / "source")
    per_day = max(10, int(args.rows / (30 * 4 * 1.7)))
    sim = SimulatorConfig(days=30, trades_per_day=per_day)
    summary = run_simulation(source, DeltaTables.from_config(source, None), sim)
    records = summary.manifest.records
    console.print(f"landing: {records:,} records ({summary.trades:,} legit trades)")
    spark = get_spark(source, app_name="bench-medallion")
    engines = ("delta-spark", "delta-rs")
    with progress() as bar:
        task = bar.add_task(
            "medallion: peer, bare job, FinML per engine", total=4 + 3 * len(engines)
        )
        # Every side is timed warm: each runs once first (JIT, code generation, file
        # listing), into its own throw-away output.
        bare = _warm_then_timed(
            "bare PySpark JSON->Parquet", records, bar, task,
            lambda out: bare_job(spark, source.landing_dir, out), root / "bare",
        )  # fmt: skip
        peer_counts: dict[str, int] = {}
        peer = _warm_then_timed(
            "peer PySpark + delta-spark medallion", records, bar, task,
            lambda out: peer_counts.update(peer_medallion.run(spark, source.landing_dir, out)),
            root / "peer",
        )  # fmt: skip
        runs = {e: _finml(e, spark, source, root, records, bar, task) for e in engines}
    pairs = [(runs[e].measure, peer, 1.5) for e in engines]
    pairs += [(runs[e].measure, bare, 3.0) for e in engines]
    counts = {e: runs[e].counts for e in engines}
    if len({json.dumps(c, sort_keys=True) for c in counts.values()}) != 1:
        raise SystemExit(f"the engines' tables differ: {counts}")
    report(
        "Medallion",
        pairs,
        args.out,
        {
            "records": records,
            "peer_counts": peer_counts,
            "counts": counts[engines[0]],
            **{f"{e}_details": runs[e].details for e in engines},
        },
    )
    for engine in engines:
        console.print(f"{engine}: {runs[engine].details}")
    console.print(f"peer counts: {peer_counts}; FinML counts: {counts[engines[0]]}")
    shutil.rmtree(root, ignore_errors=True)
    return 0


@dataclass
class _Run:
    measure: Measure
    counts: dict[str, int]
    details: dict


def _warm_then_timed(name, records, bar, task, work, out: Path) -> Measure:
    work(out.with_name(out.name + "-warm-up"))
    bar.advance(task)
    started = time.perf_counter()
    work(out)
    seconds = time.perf_counter() - started
    bar.advance(task)
    return Measure(name, seconds, seconds, records)


def _finml(engine, spark, source, root, records, bar, task) -> _Run:
    """A cold run (the engine's first in this session), a warm one, and a re-run with
    nothing new, each into its own home over the same landing files."""
    from finml.config import ProjectConfig
    from finml.pipelines.medallion import run_medallion
    from finml.runtime.delta import DeltaTables, make_engine

    def home(name: str) -> tuple[ProjectConfig, DeltaTables]:
        config = ProjectConfig(
            home=root / f"{engine}-{name}", landing=source.landing_dir, delta_engine=engine
        )
        return config, DeltaTables(
            make_engine(engine, spark), config.warehouse_dir, config.catalog, config.db_schema
        )

    started = time.perf_counter()
    warm_config, warm_tables = home("warm-up")
    first = run_medallion(warm_config, spark, warm_tables)
    cold = time.perf_counter() - started
    bar.advance(task)
    config, tables = home("run")
    started = time.perf_counter()
    result = run_medallion(config, spark, tables)
    measure = Measure(f"finml on {engine}", time.perf_counter() - started, 0, records)
    bar.advance(task)
    started = time.perf_counter()
    again = run_medallion(config, spark, tables)
    rerun = time.perf_counter() - started
    bar.advance(task)
    if first.counts != result.counts:
        raise SystemExit(
            f"{engine}: warm-up and timed runs differ: {first.counts} vs {result.counts}"
        )
    details = {
        "stages_seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "first_run_seconds": round(cold, 2),
        "rerun_nothing_new_seconds": round(rerun, 2),
        "rerun_committed_stages": len(again.quality),
    }
    return _Run(measure, result.counts, details)


if __name__ == "__main__":
    sys.exit(main())
