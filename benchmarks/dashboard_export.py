"""Dashboard export (snapshot extraction + validation) vs reading the same tables to Arrow.

Writes ``drift_monitoring`` with N rows (20 features x N/20 windows), ``data_quality_log``,
``job_runs`` and ``alerts`` with N/10 rows each through ``finml.runtime.delta`` (delta-rs),
then times :func:`finml.dashboard.build_snapshot` against the bare Arrow reads of the same
tables (the I/O the export cannot avoid), and the full export with the site. The reads are
columnar and nearly free, extraction is pandas + JSON, so the aim is loose: <= 50x the reads
(a few seconds for 10^5 rows, for an hourly job), and a snapshot that stays small because
charts keep the newest ``MAX_POINTS`` points.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import console, parser, progress, report, timed

FEATURES = 20


def _write(tables, rows: int) -> list[str]:
    import numpy as np
    import pyarrow as pa

    from finml.bundle.runs import JOB_RUNS_SCHEMA
    from finml.monitoring.schemas import ALERTS, DRIFT_MONITORING
    from finml.pipelines.quality import DQ_SCHEMA

    rng = np.random.default_rng(7)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    windows = max(rows // FEATURES, 1)
    drift = [
        {
            "window": {"start": t0 + timedelta(hours=w), "end": t0 + timedelta(hours=w + 1)},
            "column_name": f"f{f}",
            "population_stability_index": float(rng.random()),
            "js_distance": float(rng.random()),
            "severity": "NONE",
        }
        for w in range(windows)
        for f in range(FEATURES)
    ]
    small = max(rows // 10, 1)
    dq = [
        {
            "run_id": f"r{i}",
            "layer": ("bronze", "silver", "gold")[i % 3],
            "table_name": "t",
            "rows_quarantined": int(i % 5),
            "rule_failures": [("rule_a", i % 3)],
            "quality_score": 1 - (i % 7) / 1000,
            "computed_at": t0 + timedelta(minutes=i),
        }
        for i in range(small)
    ]
    runs = [
        {
            "run_id": f"r{i // 4}",
            "job": f"job{i % 5}",
            "task": f"task{i % 4}",
            "attempt": 1,
            "state": "SUCCESS",
            "start_time": t0 + timedelta(minutes=i),
            "end_time": t0 + timedelta(minutes=i, seconds=30),
            "seconds": 30.0,
        }
        for i in range(small)
    ]
    alerts = [
        {
            "alert_id": f"a{i}",
            "created_at": t0 + timedelta(minutes=i),
            "severity": "MEDIUM",
            "title": "drift",
            "status": "delivered",
        }
        for i in range(small)
    ]
    data = {
        "drift_monitoring": (drift, DRIFT_MONITORING),
        "data_quality_log": (dq, DQ_SCHEMA),
        "job_runs": (runs, JOB_RUNS_SCHEMA),
        "alerts": (alerts, ALERTS),
    }
    for name, (records, schema) in data.items():
        full = [{f.name: r.get(f.name) for f in schema} for r in records]
        tables.table(name).append(pa.Table.from_pylist(full, schema))
    return list(data)


def main(argv: list[str] | None = None) -> int:
    args = parser(
        __doc__.splitlines()[0], "python benchmarks/dashboard_export.py --rows 100000", 100_000
    ).parse_args(argv)
    from finml.config import ProjectConfig
    from finml.dashboard import build_snapshot
    from finml.jobs.dashboard import export_dashboard
    from finml.runtime.delta import DeltaTables

    root = Path(tempfile.mkdtemp(prefix="finml-bench-dash-"))
    try:
        config = ProjectConfig(home=root)
        tables = DeltaTables.from_config(config, None)
        console.print(f"writing {args.rows:,} drift rows (+ {args.rows // 10:,} per small table)")
        names = _write(tables, args.rows)
        total = sum(tables.table(n).count() for n in names)
        with progress() as bar:
            task = bar.add_task("timing", total=3 * args.repeat)
            reads = timed(
                "arrow reads",
                total,
                args.repeat,
                lambda: [tables.table(n).to_arrow() for n in names],
                bar=bar,
                task=task,
            )
            snap = timed(
                "build_snapshot",
                total,
                args.repeat,
                lambda: build_snapshot(config, tables),
                bar=bar,
                task=task,
            )
            export = timed(
                "export_dashboard",
                total,
                args.repeat,
                lambda: export_dashboard(config, tables),
                bar=bar,
                task=task,
            )
        size = (config.home / "dashboard" / "snapshot.json").stat().st_size
        console.print(f"snapshot.json: {size / 1024:,.0f} KiB for {total:,} table rows")
        report(
            "Dashboard export",
            [(snap, reads, 50.0), (export, reads, 50.0)],
            args.out,
            {"rows": total, "snapshot_bytes": size},
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
