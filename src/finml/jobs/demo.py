"""The end-to-end demo: every stage that exists, on the embedded default."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table as RichTable

from finml.log import get_logger

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("jobs.demo")
console = Console()


def run_demo(config: ProjectConfig, *, fresh: bool = True) -> dict[str, int]:
    """Run the demo; returns rows per table written."""
    from pyspark.sql import functions as F

    from finml.runtime.delta import DeltaTables
    from finml.runtime.spark import get_spark

    if fresh and config.home.exists():
        shutil.rmtree(config.home)
    spark = get_spark(config, app_name="finml-demo")
    tables = DeltaTables.from_config(config, spark)
    console.print(f"Delta engine: [bold]{tables.engine_name}[/]  warehouse: {config.warehouse_dir}")
    ticks = spark.range(10_000).select(
        F.col("id").alias("seq"),
        F.element_at(
            F.array(*[F.lit(s) for s in ("AAPL", "MSFT")]), (F.col("id") % 2 + 1).cast("int")
        ).alias("symbol"),
        (100 + F.randn(7)).alias("price"),
    )
    table = tables.table("demo_ticks")
    table.overwrite(ticks, partition_by=("symbol",))
    summary = {str(t.name): t.count() for t in tables.list()}
    out = RichTable("table", "rows", "version")
    for t in tables.list():
        out.add_row(str(t.name), f"{t.count():,}", str(t.version()))
    console.print(out)
    return summary
