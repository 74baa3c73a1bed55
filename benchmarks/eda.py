"""EDA: FinML's per-column profile (Spark) against ydata-profiling's minimal profile
(pandas) of the same Delta table, in one run: times, ratios and the agreement of the
statistics both compute.

The table: N seeded rows shaped like ``trade_features`` -- a string ``symbol`` (a few NULL),
a UTC ``ts`` and 20 numeric features (normal, Student-t, log-normal, bounded, counts, a 0/1
flag and a 4-level code) with NULLs, NaNs, +-Infinity and planted outliers -- written as a
Delta table by the session's engine (delta-spark when the jars load).

* **finml profile**: ``profile_columns(table.read(), EdaSettings())``, the code path of
  ``finml eda``: the Delta scan and the three Spark passes (summary, histograms and
  outliers, co-missing patterns), no correlations (ydata's minimal mode computes none).
* **finml driver path**: ``profile_frame(table.to_arrow().to_pandas(), ...)``, the path
  ``finml eda`` takes for a table of at most ``eda.driver_cells`` cells (default 50 million,
  so the 1M x 22 table here): the Arrow read and numpy, exact quantiles and distinct counts.
* **finml eda job**: ``run_eda`` on the table, once (the driver path at the defaults): the
  profile, the Pearson and Spearman correlations of the 20 features and the append to
  ``eda_profile``.
* **ydata load**: ``deltalake.DeltaTable(path).to_pandas()``, what a ydata user runs first.
* **ydata profile**: ``ProfileReport(df, minimal=True).get_description()``: the statistics,
  no HTML (``--html`` also times ``to_html()``, reported apart).

ydata-profiling 4.18 pins numpy<2.4, scipy<1.17 and matplotlib<=3.10, older than FinML's, so
it runs in its own venv (``--ydata-python``; see benchmarks/ydata-requirements.txt) as a
subprocess (benchmarks/_ydata_profile.py). Each side runs once cold (FinML: a fresh Spark
session; ydata: a fresh process after its imports) and ``--repeat`` times more; the ratios use
the medians of the repeats. Aim (issue 24): FinML faster than ydata, equal statistics.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from _common import Measure, console, parser, progress, report  # noqa: E402
from _eda_agreement import agree, print_agreement  # noqa: E402

TABLE = "trade_features"


def feature_table(rows: int, symbols: int = 8, seed: int = 0) -> pa.Table:
    """``rows`` seeded rows shaped like ``trade_features`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = rows

    def holes(values: np.ndarray, nan: float = 0.0, inf: float = 0.0) -> np.ndarray:
        values = values.astype(float)
        values[rng.random(n) < nan] = np.nan
        bad = rng.random(n) < inf
        values[bad] = np.where(rng.random(int(bad.sum())) < 0.5, np.inf, -np.inf)
        return values

    def spikes(values: np.ndarray, share: float = 1e-4, size: float = 50.0) -> np.ndarray:
        hit = rng.random(n) < share
        values[hit] += size * np.nanstd(values) * rng.choice([-1.0, 1.0], int(hit.sum()))
        return values

    log_return = spikes(rng.standard_t(3, n) * 1e-4)
    price = np.round(100 * np.exp(np.cumsum(rng.normal(0, 1e-4, n))), 4)
    volume = rng.lognormal(4.0, 1.2, n).round()
    macd = rng.normal(0, 0.05, n)
    signal = macd * 0.8 + rng.normal(0, 0.01, n)
    features = {
        "price": price,
        "volume": volume,
        "log_return": holes(log_return, nan=0.001),
        "rsi": holes(np.clip(rng.normal(50, 15, n), 0, 100), nan=0.02),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": macd - signal,
        "bb_pct_b": rng.normal(0.5, 0.3, n),
        "return_z": holes(spikes(rng.standard_t(4, n)), nan=0.001),
        "log_volume": np.log(volume + 1),
        "volume_z": holes(rng.normal(0, 1, n), nan=0.001),
        "gap_s": holes(rng.exponential(0.3, n), nan=0.001),
        "vwap_dist_20": holes(rng.normal(0, 0.002, n), inf=0.0002),
        "spread_proxy": holes(rng.gamma(2.0, 0.001, n), nan=0.01, inf=0.0005),
        "trades_1s": rng.poisson(3, n).astype(np.int64),
        "trades_60s": rng.poisson(180, n).astype(np.int64),
        "vwap_dist_day": spikes(rng.normal(0, 0.01, n)),
        "stale_repeat": (rng.random(n) < 0.05).astype(float),
        "session_code": rng.choice(4, n, p=[0.1, 0.7, 0.15, 0.05]).astype(np.int32),
        "hour_sin": np.sin(rng.uniform(0, 2 * np.pi, n)),
    }
    ts_us = 1_704_186_000_000_000 + np.cumsum(rng.exponential(300_000, n)).astype(np.int64)
    columns = {
        "symbol": pa.array(
            np.char.add("S", (np.arange(n) % symbols).astype(str)), mask=rng.random(n) < 1e-4
        ),
        "ts": pa.array(ts_us, pa.timestamp("us", tz="UTC")),
        # numpy arrays keep NaN apart from NULL (pyarrow's from_pandas would merge them): the
        # `rsi` NULLs are real NULLs, the other holes NaN
        **{k: pa.array(v, mask=np.isnan(v) if k == "rsi" else None) for k, v in features.items()},
    }
    return pa.table(columns)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "python benchmarks/eda.py --rows 1000000", 1_000_000)
    p.set_defaults(repeat=1)
    p.add_argument(
        "--ydata-python",
        default=os.environ.get("YDATA_PYTHON", sys.executable),
        help="python of a venv with ydata-profiling (default $YDATA_PYTHON, else this one)",
    )
    p.add_argument("--html", action="store_true", help="also time ydata's report.to_html()")
    p.add_argument(
        "--jit", choices=("c1", "tiered"), default="c1", help="spark.jit (default c1, as finml eda)"
    )
    p.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = p.parse_args(argv)
    console.quiet = args.json
    root = Path(tempfile.mkdtemp(prefix="finml-bench-eda-"))
    try:
        summary = run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


def run(args, root: Path) -> dict:
    from finml.config import ProjectConfig, SparkSettings
    from finml.eda.columns import profile_columns
    from finml.eda.frame import profile_frame
    from finml.eda.settings import EdaSettings
    from finml.jobs.eda import run_eda
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    load = os.getloadavg()
    with console.status(f"generating {args.rows:,} rows"):
        data = feature_table(args.rows)
    config = ProjectConfig(home=root, spark=SparkSettings(jit=args.jit))
    started = time.perf_counter()
    spark = get_spark(config, app_name="bench-eda")
    spark_start = time.perf_counter() - started
    tables = DeltaTables.from_config(config, spark)
    table = tables.table(TABLE)
    with console.status(f"writing {TABLE} with {tables.engine_name}"):
        started = time.perf_counter()
        table.overwrite(data)
        write_s = time.perf_counter() - started
    console.print(
        f"engine {tables.engine_name}; Spark started in {spark_start:.1f} s; "
        f"{args.rows:,} rows x {data.num_columns} columns written in {write_s:.1f} s"
    )
    settings = EdaSettings()
    runs: list[float] = []
    driver_runs: list[float] = []
    stats: list = []
    driver_stats: list = []
    with progress() as bar:
        task = bar.add_task("finml profile_columns (cold + repeats)", total=1 + args.repeat)
        for _ in range(1 + args.repeat):
            started = time.perf_counter()
            stats = profile_columns(table.read(), settings)
            runs.append(time.perf_counter() - started)
            bar.advance(task)
        task = bar.add_task("finml profile_frame (Arrow read + numpy)", total=1 + args.repeat)
        fields = table.read().schema.fields
        for _ in range(1 + args.repeat):
            started = time.perf_counter()
            driver_stats = profile_frame(table.to_arrow().to_pandas(), fields, settings)
            driver_runs.append(time.perf_counter() - started)
            bar.advance(task)
        task = bar.add_task("finml eda job (run_eda, once)", total=1)
        started = time.perf_counter()
        run_eda(config, tables, only=(TABLE,))
        job_s = time.perf_counter() - started
        bar.advance(task)
        task = bar.add_task("ydata-profiling minimal (subprocess)", total=1)
        peer = _ydata(args, table.location, root / "ydata.json")
        bar.advance(task)
    measures = _measures(args.rows, runs, driver_runs, job_s, peer)
    agreement = agree(stats, peer["variables"], data)
    print_agreement(agreement)
    console.print("[bold]driver path (profile_frame) against ydata[/]")
    driver_agreement = agree(driver_stats, peer["variables"], data)
    print_agreement(driver_agreement)
    extra = {
        "rows": args.rows,
        "engine": tables.engine_name,
        "jit": args.jit,
        "ydata_profiling": peer["version"],
        "finml_profile_s": runs,
        "finml_driver_profile_s": driver_runs,
        "driver_cells": settings.driver_cells,
        "driver_agreement": driver_agreement,
        "finml_eda_job_s": job_s,
        "ydata_import_s": peer["import_s"],
        "ydata_load_s": peer["load_s"],
        "ydata_profile_s": peer["profile_s"],
        "ydata_html_s": peer["html_s"],
        "spark_start_s": spark_start,
        "write_s": write_s,
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
        "agreement": agreement,
    }
    report("EDA profile", measures, args.out, extra)
    return {"pairs": [_pair(*m) for m in measures], **extra}


def _ydata(args, location: str, out: Path) -> dict:
    command = [args.ydata_python, str(ROOT / "_ydata_profile.py"), location, str(out)]
    command += ["--repeat", str(args.repeat)] + (["--html"] if args.html else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            f"ydata-profiling run failed ({args.ydata_python}; expected a venv with "
            f"benchmarks/ydata-requirements.txt, see --ydata-python):\n{done.stderr[-3000:]}"
        )
    return json.loads(out.read_text())


def _measures(rows: int, runs: list[float], driver: list[float], job_s: float, peer: dict):
    def warm(name: str, times: list[float]) -> Measure:
        repeats = times[1:] or times
        return Measure(name, statistics.median(repeats), min(repeats), rows)

    load, profile = peer["load_s"], peer["profile_s"]
    both = [a + b for a, b in zip(load, profile, strict=True)]
    ours = warm("finml profile", runs)
    job = Measure("finml eda job", job_s, job_s, rows)
    cold = Measure("finml profile, cold", runs[0], runs[0], rows)
    return [
        (
            warm("finml driver path (Arrow read + profile)", driver),
            warm("ydata load + profile", both),
            1.0,
        ),
        (ours, warm("ydata profile", profile), 1.0),
        (ours, warm("ydata load + profile", both), 1.0),
        (cold, Measure("ydata load + profile, cold", both[0], both[0], rows), 1.0),
        (job, warm("ydata load + profile", both), 1.0),
    ]


def _pair(ours: Measure, base: Measure, aim: float) -> dict:
    return {
        "ours": ours.name,
        "ours_s": ours.seconds,
        "baseline": base.name,
        "baseline_s": base.seconds,
        "ratio": ours.seconds / base.seconds,
        "aim": aim,
    }


if __name__ == "__main__":
    raise SystemExit(main())
