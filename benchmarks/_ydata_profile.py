"""The ydata-profiling half of benchmarks/eda.py, run by the interpreter of a venv that has
ydata-profiling (its pins -- numpy<2.4, scipy<1.17, matplotlib<=3.10 -- would downgrade
FinML's; see benchmarks/ydata-requirements.txt). Imports neither finml nor rich.

``python _ydata_profile.py TABLE_PATH RESULT_JSON [--repeat N]``: imports (timed apart), then
``1 + N`` times: loads the Delta table into pandas with delta-rs (what a pandas user does)
and profiles it with ``ProfileReport(df, minimal=True).get_description()``, each timed; the
first run is the cold one. Writes the times and the per-column statistics as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

# the statistics of a variable's description that benchmarks/eda.py compares
KEYS = (
    "type",
    "n",
    "count",
    "n_missing",
    "n_distinct",
    "n_infinite",
    "n_zeros",
    "mean",
    "std",
    "min",
    "max",
    "5%",
    "25%",
    "50%",
    "75%",
    "95%",
)


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("table", help="path of the Delta table")
    args.add_argument("out", help="JSON result file")
    args.add_argument("--repeat", type=int, default=1, help="timed runs after the cold one")
    args.add_argument("--html", action="store_true", help="also time report.to_html()")
    opts = args.parse_args()
    started = time.perf_counter()
    import pandas as pd
    from deltalake import DeltaTable
    from ydata_profiling import ProfileReport, __version__

    imported = time.perf_counter() - started
    loads, profiles, html = [], [], []
    description = None
    for _ in range(1 + opts.repeat):
        started = time.perf_counter()
        frame = DeltaTable(opts.table).to_pandas()
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = ProfileReport(frame, minimal=True, progress_bar=False)
        description = report.get_description()
        profiles.append(time.perf_counter() - started)
        if opts.html:
            started = time.perf_counter()
            report.to_html()
            html.append(time.perf_counter() - started)
    assert description is not None
    result = {
        "version": __version__,
        "pandas": pd.__version__,
        "rows": len(frame),
        "import_s": imported,
        "load_s": loads,
        "profile_s": profiles,
        "html_s": html,
        "pool_size": report.config.pool_size or os.cpu_count(),
        "variables": {
            name: {k: _plain(v[k]) for k in KEYS if k in v}
            for name, v in description.variables.items()
        },
    }
    with open(opts.out, "w") as out:
        json.dump(result, out, indent=1)
    return 0


def _plain(value: Any) -> Any:
    """JSON-able: numbers as float/int (non-finite as strings), timestamps as epoch seconds."""
    if hasattr(value, "timestamp") and callable(value.timestamp):
        return value.timestamp()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
