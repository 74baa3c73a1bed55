"""Peak memory (issue 21): batch scoring of N rows streams Arrow batches and the driver
collects nothing of size N; and the peak of ``finml demo``.

Every measure runs in a child process whose process tree (driver Python, its JVM, the
JVM's Python workers) is sampled from ``/proc`` every ``--interval`` seconds; the driver's
and each JVM's exact high-water mark is ``VmHWM`` of ``/proc/<pid>/status``, the tree's
total is the largest sum of ``VmRSS`` seen in one sample.

* ``--scoring``: a child builds an N-row feature Delta table and an N-row
  ``silver_trades`` with Spark (``spark.range``, no pandas of N rows), registers the sample
  champion in a scratch home and runs ``score_table``; it prints rows/s, the rows in
  ``predictions`` (must be N) and what a driver collect of the scored rows would hold
  (N x their Arrow bytes per row, computed from a sample, not allocated).
* ``--alerts``: the extreme-move search of the scored trades, before (``batch_trades``
  collects every trade, the watch runs on the driver) and after (``spark_extreme_moves``:
  per symbol on the executors), each in its own child over the same tables.
* ``--demo``: ``finml demo`` into a scratch ``FINML_HOME``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, console, progress
from rich.table import Table

VENV_BIN = Path(sys.executable).parent
SYMBOLS = 8
MIB = 1024 * 1024
EXAMPLE = (
    "python benchmarks/memory.py --scoring --alerts --rows 1000000   "
    "(defaults: --scoring, 10,000,000 rows; --demo runs finml demo, ~6 min)"
)


# ---- sampling the process tree ----------------------------------------------------------
@dataclass
class TreePeak:
    """Peaks of one process tree, in bytes."""

    total_rss: int = 0  # largest sum of VmRSS over the tree in one sample
    driver_hwm: int = 0  # the root process's VmHWM
    jvm_hwm: int = 0  # the largest VmHWM of a java process in the tree
    workers_rss: int = 0  # largest sum of the Python workers' VmRSS in one sample
    processes: int = 0  # most processes alive at once
    jvms: int = 0  # java processes seen
    samples: int = 0
    seconds: float = 0.0
    seen: dict[int, str] = field(default_factory=dict)

    def mib(self) -> dict[str, float]:
        keys = ("total_rss", "driver_hwm", "jvm_hwm", "workers_rss")
        return {f"{k}_mib": round(getattr(self, k) / MIB, 1) for k in keys}


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes (empty when it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from ``/proc/<pid>/stat``."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "gone"
    if argv and argv[0].endswith(b"java"):
        return "jvm"
    if any(b"pyspark.daemon" in a or b"pyspark.worker" in a for a in argv):
        return "worker"
    return "other"


def sample_tree(proc: subprocess.Popen, peak: TreePeak, interval: float) -> None:
    """Sample ``proc``'s tree until it exits, keeping the peaks in ``peak``."""
    started = time.perf_counter()
    while proc.poll() is None:
        tree = _children()
        pids, todo = [], [proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += tree.get(pid, [])
        total = workers = 0
        for pid in pids:
            kind = peak.seen.get(pid, "other")
            if kind in ("other", "gone"):  # a launcher script may exec java later: look again
                kind = peak.seen[pid] = _kind(pid, proc.pid)
            status = _status(pid)
            rss, hwm = status.get("VmRSS", 0), status.get("VmHWM", 0)
            total += rss
            if kind == "driver":
                peak.driver_hwm = max(peak.driver_hwm, hwm)
            elif kind == "jvm":
                peak.jvm_hwm = max(peak.jvm_hwm, hwm)
            elif kind == "worker":
                workers += rss
        peak.total_rss = max(peak.total_rss, total)
        peak.workers_rss = max(peak.workers_rss, workers)
        peak.processes = max(peak.processes, len(pids))
        peak.samples += 1
        time.sleep(interval)
    peak.jvms = sum(1 for k in peak.seen.values() if k == "jvm")
    peak.seconds = time.perf_counter() - started


def run_child(cmd: list[str], env: dict[str, str], cwd: Path, interval: float) -> TreePeak:
    """Run ``cmd`` and sample its tree; raises when it fails."""
    peak = TreePeak()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd)
    try:
        sample_tree(proc, peak, interval)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}...: expected exit 0, got {proc.returncode}")
    return peak


# ---- the children -----------------------------------------------------------------------
def _own_hwm() -> dict[str, int]:
    """This process's VmHWM and its JVM children's (read while they live), in bytes."""
    me = os.getpid()
    jvm = max(
        (_status(p).get("VmHWM", 0) for p in _children().get(me, []) if _kind(p, me) == "jvm"),
        default=0,
    )
    return {"driver_hwm": _status(me).get("VmHWM", 0), "jvm_hwm": jvm}


def _session(home: Path) -> tuple[Any, Any, Any]:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    config = ProjectConfig(home=home)
    spark = get_spark(config, app_name="bench-memory")
    return config, spark, DeltaTables.from_config(config, spark)


def build_tables(spark: Any, tables: Any, rows: int) -> None:
    """``test_set`` (symbol, ts, trade_id and the sample model's features) and
    ``silver_trades`` (trade_id, symbol, ts, price) of ``rows`` rows, built by Spark: 8
    symbols, one trade per 10 ms over ~1.2 days per 10M rows (a UTC day boundary inside),
    calm prices with a one-trade 50 % jump every 100,003 trades (alert candidates)."""
    from pyspark.sql import functions as F

    from finml.serving.sample_model import SAMPLE_FEATURES

    start = 1_772_481_600  # 2026-03-02 20:00 UTC, seconds since the epoch
    ids = spark.range(rows).select(
        F.concat(F.lit("t"), F.col("id").cast("string")).alias("trade_id"),
        F.concat(F.lit("S"), (F.col("id") % SYMBOLS).cast("string")).alias("symbol"),
        F.timestamp_seconds(F.col("id") / 100 + start).alias("ts"),
        F.col("id"),
    )
    features = ids.select(
        "symbol", "ts", "trade_id",
        *(F.randn(seed=i).alias(name) for i, name in enumerate(SAMPLE_FEATURES)),
    )  # fmt: skip
    jump = F.when(F.col("id") % 100_003 == 50_000, 1.5).otherwise(1.0)
    trades = ids.select(
        "trade_id", "symbol", "ts", (100 * F.exp(F.randn(seed=99) * 1e-3) * jump).alias("price")
    )
    tables.table("test_set").overwrite(features)
    tables.table("silver_trades").overwrite(trades)


def child_scoring(home: Path, rows: int, result: Path) -> None:
    """Build the tables, register the champion, score; write the numbers to ``result``."""
    from finml.jobs.serving import score_table
    from finml.serving.sample_model import log_sample_model

    config, spark, tables = _session(home)
    started = time.perf_counter()
    build_tables(spark, tables, rows)
    built = time.perf_counter() - started
    log_sample_model(config, aliases=("champion",))
    report = score_table(config, spark, tables, "test_set")
    predictions = tables.table("predictions")
    counted = predictions.read().count()
    sample = predictions.read().limit(100_000).toArrow()
    trade_sample = tables.table("silver_trades").read().select("symbol", "ts", "price")
    trade_bytes = trade_sample.limit(100_000).toArrow()
    alerts = tables.table("alerts")
    out = {
        "rows": rows,
        "build_seconds": built,
        "score_seconds": report.seconds,
        "rows_per_second": rows / report.seconds,
        "predictions_rows": counted,
        "scored_columns": sample.column_names,
        "collect_bytes_estimate": sample.nbytes / sample.num_rows * rows,
        "trades_collect_bytes_estimate": trade_bytes.nbytes / trade_bytes.num_rows * rows,
        "alerts_rows": alerts.count() if alerts.exists() else 0,
        **_own_hwm(),
    }
    result.write_text(json.dumps(out))
    spark.stop()


def child_alerts(home: Path, path: str, result: Path) -> None:
    """The extreme moves of every trade of ``silver_trades`` by ``path`` (driver or
    executors); the driver's RSS before and its high-water mark after."""
    from finml.monitoring.alerts import AlertManager
    from finml.monitoring.market_alerts import batch_trades, extreme_moves, spark_extreme_moves
    from finml.monitoring.settings import MonitoringSettings
    from finml.monitoring.watch import LiveAnomalyWatch

    config, spark, tables = _session(home)
    settings = MonitoringSettings.from_config(config).watch
    trades = tables.table("silver_trades").read()
    trades.limit(1).collect()  # the session and the table's first read, before the baseline
    before = _status(os.getpid())["VmRSS"]
    started = time.perf_counter()
    if path == "driver":
        new, history = batch_trades(trades, trades.select("trade_id"), settings.lookback)
        watch = LiveAnomalyWatch(AlertManager(), None, settings=settings)
        moves = extreme_moves(watch, new, history)
    else:
        moves = spark_extreme_moves(trades, trades.select("trade_id"), settings)
    seconds = time.perf_counter() - started
    out = {
        "path": path,
        "seconds": seconds,
        "candidates": len(moves),
        "keys": sorted(a.key for a in moves),
        "zscores": [a.details["zscore"] for a in moves],
        "driver_rss_before": before,
        **_own_hwm(),
    }
    result.write_text(json.dumps(out))
    spark.stop()


# ---- the parent -------------------------------------------------------------------------
def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "FINML_HOME": str(home),
        "FINML_LOG_LEVEL": "WARNING",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    env.pop("SPARK_REMOTE", None)
    return env


def _child(args: argparse.Namespace, scratch: Path, what: str, *extra: str) -> tuple:
    result = scratch / f"{what}.json"
    cmd = [sys.executable, __file__, "--child", what, "--home", str(scratch / "home")]
    cmd += ["--rows", str(args.rows), "--result", str(result), *extra]
    peak = run_child(cmd, _env(scratch / "home"), scratch, args.interval)
    return json.loads(result.read_text()), peak


def measure_scoring(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    numbers, peak = _child(args, scratch, "scoring")
    if numbers["predictions_rows"] != args.rows:
        raise SystemExit(
            f"predictions: expected {args.rows:,} rows, got {numbers['predictions_rows']:,}"
        )
    table = Table("measure", "value", title=f"batch scoring of {args.rows:,} rows (score_table)")
    table.add_row("score_table seconds / rows/s", _rate(numbers))
    table.add_row("rows in predictions", f"{numbers['predictions_rows']:,}")
    table.add_row("driver Python peak (VmHWM)", _mib(numbers["driver_hwm"]))
    table.add_row("JVM peak (VmHWM)", _mib(max(numbers["jvm_hwm"], peak.jvm_hwm)))
    table.add_row("Python workers peak (sum of RSS)", _mib(peak.workers_rss))
    table.add_row("process tree peak (sum of RSS)", _mib(peak.total_rss))
    table.add_row(
        "baseline: a driver collect of the scored rows", _mib(numbers["collect_bytes_estimate"])
    )
    table.add_row("  (columns)", ", ".join(numbers["scored_columns"]))
    table.add_row(
        "a collect of the trades (symbol, ts, price)",
        _mib(numbers["trades_collect_bytes_estimate"]),
    )
    table.add_row("build tables seconds", f"{numbers['build_seconds']:.1f}")
    table.add_row("processes at once / samples", f"{peak.processes} / {peak.samples}")
    console.print(table)
    return {"numbers": numbers, "tree": {**asdict(peak), **peak.mib(), "seen": None}}


def measure_alerts(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    if not (scratch / "home").exists():
        _child(args, scratch, "build")
    found = {
        path: _child(args, scratch, "alerts", "--path", path) for path in ("driver", "executors")
    }
    same = found["driver"][0]["keys"] == found["executors"][0]["keys"] and (
        found["driver"][0]["zscores"] == found["executors"][0]["zscores"]
    )
    columns = ("path", "seconds", "candidates", "driver RSS before", "driver peak", "JVM peak")
    table = Table(*columns, "tree peak", title=f"extreme moves of {args.rows:,} trades")
    for path, (n, peak) in found.items():
        table.add_row(
            path, f"{n['seconds']:.1f}", str(n["candidates"]), _mib(n["driver_rss_before"]),
            _mib(n["driver_hwm"]), _mib(max(n["jvm_hwm"], peak.jvm_hwm)), _mib(peak.total_rss),
        )  # fmt: skip
    console.print(table)
    console.print(f"same keys and z-scores on both paths: {same}")
    if not same:
        raise SystemExit("extreme moves: expected the same candidates on both paths, got different")
    return {
        path: {"numbers": {**n, "keys": len(n["keys"]), "zscores": None},
               "tree": {**asdict(p), **p.mib(), "seen": None}}
        for path, (n, p) in found.items()
    }  # fmt: skip


def measure_demo(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    home = scratch / "demo_home"
    peak = run_child([str(VENV_BIN / "finml"), "demo"], _env(home), scratch, args.interval)
    table = Table("measure", "value", title="finml demo (scratch FINML_HOME)")
    table.add_row("wall seconds", f"{peak.seconds:.0f}")
    table.add_row("process tree peak (sum of RSS)", _mib(peak.total_rss))
    table.add_row("driver Python peak (VmHWM)", _mib(peak.driver_hwm))
    table.add_row("JVM peak (largest VmHWM)", _mib(peak.jvm_hwm))
    table.add_row("Python workers peak (sum of RSS)", _mib(peak.workers_rss))
    table.add_row(
        "JVMs / processes at once / all seen", f"{peak.jvms} / {peak.processes} / {len(peak.seen)}"
    )
    console.print(table)
    return {**asdict(peak), **peak.mib(), "seen": None, "kinds": _kinds(peak)}


def _kinds(peak: TreePeak) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in peak.seen.values():
        out[kind] = out.get(kind, 0) + 1
    return out


def _rate(n: dict[str, Any]) -> str:
    return f"{n['score_seconds']:.1f} s / {n['rows_per_second']:,.0f}"


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=f"Example: {EXAMPLE}")
    p.add_argument(
        "--rows", type=int, default=10_000_000, help="rows to score (default 10,000,000)"
    )
    p.add_argument("--scoring", action="store_true", help="batch scoring of --rows rows")
    p.add_argument("--alerts", action="store_true", help="extreme moves: driver vs executors")
    p.add_argument("--demo", action="store_true", help="finml demo in a scratch FINML_HOME")
    p.add_argument("--interval", type=float, default=0.25, help="sampling interval (seconds)")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON result file (default: benchmarks/out)"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rows < 1:
        p.error(f"--rows: expected a positive number, got {args.rows}")
    if args.child:
        return _run_child(args)
    if not (args.scoring or args.alerts or args.demo):
        args.scoring = True
    scratch = Path(tempfile.mkdtemp(prefix="finml-bench-memory-"))
    results: dict[str, Any] = {}
    load_before = os.getloadavg()
    try:
        wanted = [w for w in ("scoring", "alerts", "demo") if getattr(args, w)]
        with progress() as bar:
            task = bar.add_task("memory benchmark", total=len(wanted))
            for what in wanted:
                bar.update(task, description=f"measuring {what}")
                results[what] = globals()[f"measure_{what}"](args, scratch)
                bar.advance(task)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()
    console.print(
        f"load average (1/5/15 min): {load_before} before, {load_after} after; "
        f"{os.cpu_count()} cores"
    )
    path = args.out or OUT / "memory.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "title": "memory",
        "commit": _git_commit(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "rows": args.rows,
        "load": [load_before, load_after],
        **results,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"results: {path}")
    return 0


def _run_child(args: argparse.Namespace) -> int:
    if args.child == "scoring":
        child_scoring(args.home, args.rows, args.result)
    elif args.child == "build":
        _, spark, tables = _session(args.home)
        build_tables(spark, tables, args.rows)
        args.result.write_text("{}")
        spark.stop()
    elif args.child == "alerts":
        child_alerts(args.home, args.path, args.result)
    else:
        raise SystemExit(f"--child: expected scoring, build or alerts, got {args.child!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
