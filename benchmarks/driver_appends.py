"""Small appends from the driver (quality rows, audits, alerts) on the delta-spark engine vs a
plain delta-spark write of the same Arrow rows with a transaction id, one session, one run.

FinML's ``Table.append`` of an Arrow table to an existing local table commits through
delta-rs (see ``finml.runtime.delta.jvm_writes``); the baseline is what a delta-spark user
writes: ``spark.createDataFrame(arrow).write.format("delta").mode("append")`` with
``txnAppId`` / ``txnVersion``. Both append the same rows to twin tables that delta-spark
created, with a new transaction version each time; the tables are then compared.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import console, parser, progress, report, timed


def main(argv: list[str] | None = None) -> int:
    args = parser(
        __doc__.splitlines()[0], "python benchmarks/driver_appends.py --rows 6 --repeat 9", 6
    ).parse_args(argv)
    import pyarrow as pa

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables, Txn, make_engine
    from finml.runtime.spark import get_spark

    root = Path(tempfile.mkdtemp(prefix="finml-bench-appends-"))
    spark = get_spark(ProjectConfig(home=root), app_name="bench-driver-appends")
    rows = pa.table(
        {
            "layer": pa.array(["silver"] * args.rows),
            "rows_in": pa.array(range(args.rows), pa.int64()),
            "quality_score": pa.array([0.99] * args.rows),
        }
    )
    tables = DeltaTables(make_engine("delta-spark", spark), root, "bench", "appends")
    ours, theirs = tables.table("ours"), tables.table("theirs")
    for table in (ours, theirs):
        table.append(spark.createDataFrame(rows))  # created by delta-spark
    versions = count()

    def finml_append() -> None:
        ours.append(rows, txn=Txn("bench", next(versions)))

    plain_versions = count()

    def plain_append() -> None:
        (
            spark.createDataFrame(rows)
            .write.format("delta")
            .mode("append")
            .option("txnAppId", "bench")
            .option("txnVersion", next(plain_versions))
            .save(theirs.location)
        )

    with progress() as bar:
        task = bar.add_task(f"appends of {args.rows} rows", total=2 * args.repeat)
        kw = {"rows": args.rows, "repeat": args.repeat, "bar": bar, "task": task}
        baseline = timed("plain delta-spark append with txn", work=plain_append, **kw)
        mine = timed("finml Table.append (Arrow)", work=finml_append, **kw)
    same = sorted(map(str, ours.to_arrow().to_pylist())) == sorted(
        map(str, theirs.to_arrow().to_pylist())
    )
    report("Driver appends", [(mine, baseline, 0.25)], args.out, {"rows": args.rows})
    console.print(f"both tables hold the same rows: {same}; data under {root} (removed)")
    shutil.rmtree(root, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
