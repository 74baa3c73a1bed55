"""Drift detection (PSI, JS distance, KS, Wasserstein per feature) vs Evidently's data-drift
report on the same data, measured in the same run.

Reference and current frames of N rows x F float64 features (normal, lognormal and
Student-t columns; half of the current columns shifted by 0.5). "ours" is
``DriftDetector(reference).compare(current)``: it profiles the reference (sort, quantile
edges) *and* compares, computing all four numeric metrics per feature. Evidently runs
``Report([DataDriftPreset(method=...)]).run(current, reference)``: ``psi`` computes only PSI,
``default`` lets Evidently pick (normed Wasserstein for numeric columns of > 1000 rows).
Evidently is timed once (minutes per run); ours is the median of ``--repeat`` runs after a
warm-up. Both wall time and process CPU time are recorded: on a shared machine CPU time is
the steadier comparison (ours uses two threads, so its CPU time exceeds its wall time).
Aim (issue 6): ours >= 10x faster.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Measure, console, parser, progress, report


def make_frames(rows: int, features: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ref, cur = {}, {}
    for i in range(features):
        kind = i % 3
        draw = {
            0: lambda n: rng.normal(0.0, 1.0, n),
            1: lambda n: rng.lognormal(0.0, 0.8, n),
            2: lambda n: rng.standard_t(4, n),
        }[kind]
        ref[f"f{i:02d}"] = draw(rows)
        shift = 0.5 if i % 2 else 0.0
        cur[f"f{i:02d}"] = draw(rows) + shift
    return pd.DataFrame(ref), pd.DataFrame(cur)


def main(argv: list[str] | None = None) -> int:
    p = parser(
        __doc__.splitlines()[0],
        "python benchmarks/drift.py --rows 1000000 --features 50",
        1_000_000,
    )
    p.add_argument("--features", type=int, default=50, help="feature columns (default 50)")
    p.add_argument(
        "--evidently",
        default="psi",
        help="Evidently methods to time, comma-separated: psi, default (default psi)",
    )
    args = p.parse_args(argv)

    from finml.monitoring.drift import DriftDetector

    with console.status(f"generating {args.rows:,} x {args.features} reference + current"):
        reference, current = make_frames(args.rows, args.features)
    cells = args.rows * args.features
    methods = [m.strip() for m in args.evidently.split(",") if m.strip()]
    pairs = []
    with progress() as bar:
        task = bar.add_task("ours (profile + compare)", total=args.repeat)
        result: dict = {}

        def ours() -> None:
            result["report"] = DriftDetector(reference).compare(current)

        ours()  # warm-up
        runs = []
        for _ in range(args.repeat):
            runs.append(_clock(ours))
            bar.advance(task)
        wall = statistics.median(r[0] for r in runs)
        mine = Measure("finml drift", wall, min(r[0] for r in runs), cells)
        mine_cpu = statistics.median(r[1] for r in runs)
        cpu: dict[str, dict[str, float]] = {}
        for method in methods:
            etask = bar.add_task(f"evidently DataDriftPreset({method})", total=1)
            base, base_cpu = _evidently(method, reference, current, cells)
            bar.advance(etask)
            pairs.append((mine, base, 0.1))
            cpu[method] = {"ours_cpu_s": mine_cpu, "evidently_cpu_s": base_cpu,
                           "cpu_ratio": mine_cpu / base_cpu}  # fmt: skip
            console.print(
                f"CPU time: ours {mine_cpu:.2f} s vs evidently {method} {base_cpu:.2f} s -> "
                f"{mine_cpu / base_cpu:.3f}x"
            )
    drifted = sum(1 for c in result["report"].columns if c.severity != "NONE")
    console.print(
        f"ours flagged {drifted}/{args.features} columns (half of them were shifted by 0.5)"
    )
    report(
        "Drift detection",
        pairs,
        args.out,
        extra={
            "rows": args.rows,
            "features": args.features,
            "ours_metrics": "psi,js,ks,wasserstein",
            "cpu": cpu,
            "load_average": os.getloadavg(),
        },
    )
    return 0


def _clock(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _evidently(method: str, reference, current, cells: int) -> tuple[Measure, float]:
    import warnings

    from evidently import Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    preset = DataDriftPreset() if method == "default" else DataDriftPreset(method=method)
    seconds, cpu = _clock(lambda: Report([preset]).run(current, reference))
    return Measure(f"evidently {method}", seconds, seconds, cells), cpu


if __name__ == "__main__":
    raise SystemExit(main())
