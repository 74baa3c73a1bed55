"""REST serving measured on the demo's real champion and on the sample model, each served by
``finml serve`` and by ``mlflow models serve --env-manager local`` (what a user would run
instead), one worker each, real processes on loopback, all in the same run.

Per model and server: single-row latency (p50/p99, one keep-alive client, real rows),
requests/s with a few concurrent clients, server CPU per request, one batch request. Aims
(issue 16): the champion's single-row p99 <= 3 ms on 2 cores and >= 3x mlflow models serve.
The champion comes from ``--home`` (a FINML_HOME where ``finml demo`` ran) or is built here
by running ``finml demo`` into a temporary home (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _load as load
from _common import OUT, console, progress
from rich.table import Table

VENV_BIN = Path(sys.executable).parent
Results = dict[str, dict[str, dict[str, float]]]  # model -> server -> measure -> value
Body = Callable[[Any], dict[str, Any]]
OURS, MLFLOW = "finml serve", "mlflow models serve"
BEFORE = "finml serve (before)"  # --before-src: the same command on another source tree
SETTLE_SECONDS = 2.5  # finml's log writer commits the last rows (flush_seconds: 2)
AIM_P99_MS, AIM_RATIO = 3.0, 3.0


@dataclass(frozen=True)
class Subject:
    """One registered model to serve: where it lives and the records to send it."""

    label: str
    home: Path
    name: str
    version: int
    records: list[dict[str, float]]
    tracking_uri: str
    registry_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: python benchmarks/serving.py --home /tmp/serving_home --requests 3000",
    )
    p.add_argument("--home", type=Path, default=None, help="FINML_HOME with the demo champion")
    p.add_argument("--requests", type=int, default=2000, help="single-row requests per measure")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients for requests/s")
    p.add_argument("--batch-rows", type=int, default=10_000, help="rows of the batch request")
    p.add_argument("--repeat", type=int, default=7, help="batch requests timed (median)")
    p.add_argument("--score-rows", type=int, default=0, help="Spark batch scoring rows (0: skip)")
    p.add_argument("--out", type=Path, default=None, help="JSON result file")
    p.add_argument(
        "--before-src",
        type=Path,
        default=None,
        help="also serve with PYTHONPATH=BEFORE_SRC (e.g. `git archive <commit> src` unpacked)",
    )
    args = p.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    scratch = Path(tempfile.mkdtemp(prefix="finml-bench-serving-"))
    try:
        return run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # temporary homes, warehouses, logs


def run(args: argparse.Namespace, scratch: Path) -> int:
    """Every measure of the benchmark, with its scratch files under ``scratch``."""
    subjects = [champion(args.home or demo_home(scratch), args.batch_rows), sample(scratch, args)]
    load_before = os.getloadavg()
    results: Results = {}
    with progress() as bar:
        servers = (OURS, BEFORE, MLFLOW) if args.before_src else (OURS, MLFLOW)
        task = bar.add_task("serving benchmark", total=len(subjects) * len(servers))
        for subject in subjects:
            results[subject.label] = {}
            for server in servers:
                results[subject.label][server] = measure(subject, server, args, scratch)
                bar.advance(task)
    load_after = os.getloadavg()
    for subject in subjects:
        console.print(detail_table(subject, results[subject.label], args))
    console.print(summary_table(subjects, results))
    if args.before_src:
        console.print(before_table(subjects, results, args.before_src))
    console.print(
        f"load average (1/5/15 min): {_loads(load_before)} before, {_loads(load_after)} after"
        f"; {os.cpu_count()} cores"
    )
    if args.score_rows:
        results["spark batch scoring"] = {
            "sample model": _spark_scoring(subjects[1], args.score_rows)
        }
    save(args, subjects, results, (load_before, load_after))
    return 0


def demo_home(scratch: Path) -> Path:
    """A FINML_HOME where ``finml demo`` has trained and registered the champion."""
    home = scratch / "demo_home"
    console.print(f"building the demo champion: finml demo into {home} (a few minutes)")
    env = {**os.environ, "FINML_HOME": str(home), "FINML_LOG_LEVEL": "WARNING"}
    subprocess.run([str(VENV_BIN / "finml"), "demo"], env=env, check=True, cwd=scratch)
    return home


def champion(home: Path, rows: int) -> Subject:
    """The @champion of ``home`` and up to ``rows`` finite records of its ``test_set``."""
    import mlflow
    import numpy as np

    from finml import registry
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig(home=home)
    registry.configure(config)
    name = registry.model_name(config, "anomaly_model")
    version = registry.require_alias(config, name, "champion").version
    signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    features = signature.inputs.input_names()
    frame = DeltaTables.from_config(config, None).table("test_set").to_arrow().to_pandas()
    values = frame[features].astype("float64")
    values = values[np.isfinite(values.to_numpy()).all(axis=1)].head(rows)
    return Subject(
        "demo champion",
        home,
        name,
        int(version),
        values.to_dict("records"),
        config.tracking_uri,
        config.registry_uri,
    )


def sample(scratch: Path, args: argparse.Namespace) -> Subject:
    """The sample logistic-regression model, registered in its own home."""
    from finml.config import ProjectConfig
    from finml.serving.sample_model import SAMPLE_FEATURES, log_sample_model, synthetic_rows

    home = scratch / "sample_home"
    config = ProjectConfig(home=home)
    version = log_sample_model(config, aliases=("champion",))
    rows = synthetic_rows(args.batch_rows, seed=5)[list(SAMPLE_FEATURES)]
    return Subject(
        "sample model",
        home,
        version.name,
        int(version.version),
        rows.to_dict("records"),
        config.tracking_uri,
        config.registry_uri,
    )


def measure(
    subject: Subject, server: str, args: argparse.Namespace, scratch: Path
) -> dict[str, float]:
    """Start ``server`` on ``subject`` and measure it; the server is stopped afterwards."""
    port = load.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FINML_HOME": str(subject.home),
        "FINML_WAREHOUSE": str(scratch / "warehouse" / subject.label.replace(" ", "_")),
        "FINML_LOG_LEVEL": "WARNING",
        "MLFLOW_TRACKING_URI": subject.tracking_uri,
        "MLFLOW_REGISTRY_URI": subject.registry_uri,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("FINML_API_TOKEN", None)
    if server in (OURS, BEFORE):
        cmd = [str(VENV_BIN / "finml"), "serve", "--port", str(port)]
        if server == BEFORE:
            env["PYTHONPATH"] = str(args.before_src.resolve() / "src")
        paths, one, many = ("/predict", "/predict/batch"), (lambda r: r), _records
    else:
        cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", subject.uri]
        cmd += ["--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"]
        paths, one, many = ("/invocations", "/invocations"), _frame_of_one, _frame_records
    with load.server(cmd, env, scratch, base) as pid:
        return _measures(base + paths[0], base + paths[1], pid, subject, one, many, args)


def _measures(
    single: str,
    batch: str,
    pid: int,
    subject: Subject,
    one: Body,
    many: Body,
    args: argparse.Namespace,
) -> dict[str, float]:
    """Latency, throughput, CPU per request and batch time against one running server."""
    record = subject.records[0]
    lat = load.latencies(single, one(record), args.requests)
    cpu_before = load.tree_cpu_seconds(pid)
    rps = load.throughput(single, one(record), args.requests, args.clients)
    time.sleep(SETTLE_SECONDS)
    # Server CPU per request (the server and its child processes): unlike latency, this hardly
    # moves when other work shares the cores.
    cpu_ms = (load.tree_cpu_seconds(pid) - cpu_before) * 1000
    served = args.requests // args.clients * args.clients
    return {
        "p50_ms": statistics.median(lat),
        "p99_ms": load.pct(lat, 99),
        "rps": rps,
        "cpu_ms_per_request": cpu_ms / served,
        "batch_s": load.batch_seconds(batch, many(subject.records), args.repeat),
        "batch_rows": len(subject.records),
    }


def _records(records: list[dict[str, float]]) -> dict[str, Any]:
    return {"records": records}


def _frame_of_one(record: dict[str, float]) -> dict[str, Any]:
    return {"dataframe_records": [record]}


def _frame_records(records: list[dict[str, float]]) -> dict[str, Any]:
    return {"dataframe_records": records}


def detail_table(
    subject: Subject, result: dict[str, dict[str, float]], args: argparse.Namespace
) -> Table:
    """Both servers on one model, with ratios (and the aims, for the champion)."""
    ours, base = result[OURS], result[MLFLOW]
    table = Table(
        "measure", OURS, MLFLOW, "ours vs mlflow", "aim", title=f"{subject.label} ({subject.uri})"
    )
    aims = subject.label == "demo champion"
    p99_met = _verdict(ours["p99_ms"] <= AIM_P99_MS)
    rows = [
        ("single-row p50 ms", "p50_ms", "%.2f", _speed, ""),
        ("single-row p99 ms", "p99_ms", "%.2f", _speed, f"<= {AIM_P99_MS:g} ms {p99_met}"),
        (f"requests/s, {args.clients} clients", "rps", "%.0f", _more, ""),
        ("server CPU ms / request", "cpu_ms_per_request", "%.2f", _less, ""),
        (f"{int(ours['batch_rows']):,}-row batch s", "batch_s", "%.3f", _speed, ""),
    ]
    for label, key, fmt, compare, aim in rows:
        ratio = compare(base[key], ours[key])
        if aims and key in ("p50_ms", "p99_ms", "rps"):
            factor = base[key] / ours[key] if key != "rps" else ours[key] / base[key]
            aim = (aim + "; " if aim else "") + f">= {AIM_RATIO:g}x {_verdict(factor >= 3)}"
        table.add_row(label, fmt % ours[key], fmt % base[key], ratio, aim if aims else "")
    return table


def summary_table(subjects: list[Subject], results: Results) -> Table:
    """One line per model: single-row latency of both servers and every ratio."""
    table = Table(
        "model", "ours p50", "ours p99", "mlflow p50", "mlflow p99", "p50 ratio", "p99 ratio",
        "req/s ratio", "batch ratio", title="Single-row ms and ratios (mlflow / ours)",
    )  # fmt: skip
    for subject in subjects:
        ours, base = results[subject.label][OURS], results[subject.label][MLFLOW]
        table.add_row(
            subject.label,
            f"{ours['p50_ms']:.2f}",
            f"{ours['p99_ms']:.2f}",
            f"{base['p50_ms']:.2f}",
            f"{base['p99_ms']:.2f}",
            f"{base['p50_ms'] / ours['p50_ms']:.2f}x",
            f"{base['p99_ms'] / ours['p99_ms']:.2f}x",
            f"{ours['rps'] / base['rps']:.2f}x",
            f"{base['batch_s'] / ours['batch_s']:.2f}x",
        )
    return table


def before_table(subjects: list[Subject], results: Results, before_src: Path) -> Table:
    """``finml serve`` now against the same command on the ``--before-src`` tree."""
    table = Table(
        "model",
        "measure",
        "now",
        "before",
        "now vs before",
        title=f"finml serve: now vs {before_src}",
    )
    measures = [
        ("single-row p50 ms", "p50_ms", "%.2f", _speed),
        ("single-row p99 ms", "p99_ms", "%.2f", _speed),
        ("requests/s", "rps", "%.0f", _more),
        ("server CPU ms / request", "cpu_ms_per_request", "%.2f", _less),
        ("batch s", "batch_s", "%.3f", _speed),
    ]
    for subject in subjects:
        now, before = results[subject.label][OURS], results[subject.label][BEFORE]
        for label, key, fmt, compare in measures:
            table.add_row(
                subject.label,
                label,
                fmt % now[key],
                fmt % before[key],
                compare(before[key], now[key]),
            )
    return table


def save(
    args: argparse.Namespace,
    subjects: list[Subject],
    results: Results,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
) -> None:
    """Write the run as JSON (default ``benchmarks/out/serving.json``)."""
    path = args.out or OUT / "serving.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "title": "serving",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cores": os.cpu_count(),
        "args": vars(args),
        "load_average": {"before": loads[0], "after": loads[1]},
        "models": {s.label: {"uri": s.uri, "home": str(s.home)} for s in subjects},
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"results: {path}")


def _spark_scoring(subject: Subject, rows: int) -> dict[str, float]:
    """``score_table`` over a ``rows``-row Delta table with each method (warm run timed)."""
    from datetime import timedelta

    import pyarrow as pa

    from finml.config import ProjectConfig
    from finml.jobs.serving import score_table
    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark
    from finml.serving.sample_model import synthetic_rows

    config = ProjectConfig(home=subject.home)
    frame = synthetic_rows(rows, seed=9)
    frame.insert(0, "trade_id", [f"t{i}" for i in range(rows)])
    start = datetime(2026, 1, 5, tzinfo=UTC)
    frame.insert(0, "ts", [start + timedelta(milliseconds=i) for i in range(rows)])
    frame.insert(0, "symbol", "AAPL")
    spark = get_spark(config, app_name="bench-serving")
    tables = DeltaTables.from_config(config, spark)
    tables.table("test_set").overwrite(pa.Table.from_pandas(frame, preserve_index=False))
    out = {}
    for method in ("map_in_pandas", "spark_udf"):
        score_table(config, spark, tables, method=method)  # warm-up: Python workers, model load
        out[f"{method}_s"] = score_table(config, spark, tables, method=method).seconds
    table = Table("method", "seconds", "rows/s", title=f"Spark batch scoring, {rows:,} rows")
    for key, seconds in out.items():
        table.add_row(key.removesuffix("_s"), f"{seconds:.2f}", f"{rows / seconds:,.0f}")
    console.print(table)
    return out


def _speed(baseline: float, ours: float) -> str:
    """``N.NNx faster`` or ``N.NNx slower``: ours against the baseline, never inverted."""
    if ours <= baseline:
        return f"{baseline / ours:.2f}x faster"
    return f"{ours / baseline:.2f}x slower"


def _more(baseline: float, ours: float) -> str:
    return f"{ours / baseline:.2f}x"


def _less(baseline: float, ours: float) -> str:
    return f"{baseline / ours:.2f}x less" if ours <= baseline else f"{ours / baseline:.2f}x more"


def _verdict(met: bool) -> str:
    return "[green]met[/]" if met else "[red]missed[/]"


def _loads(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
