"""Bronze trades -> checked, deduplicated silver trades + quarantine (one stage batch).

The rule counts and completeness are observed while quarantine and silver are written
(silver has no ``fail`` rule; each target counts the rows it keeps), so the increment is
read once per target and never cached or aggregated separately; the rules read only the
typed columns, so the trade identity and session are derived after the split, for the
rows each target keeps. Every read is pinned to the batch's plan -- bronze versions
``(start, end]``, silver and gold as they were when the batch was planned -- so a
re-executed batch computes exactly what its first execution computed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from finml.log import get_logger
from finml.pipelines import contracts
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import observe
from finml.pipelines.quality import (
    QualityRecord,
    completeness,
    distinct_keys,
    non_null_measures,
)
from finml.pipelines.stages import BatchContext, Stage
from finml.pipelines.trades import (
    SILVER_COLUMNS,
    SILVER_TRADES,
    band_reference,
    deduplicate,
    typed_trades,
    with_trade_identity,
)
from finml.runtime.delta import DRIVER_ROWS, within

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.pipelines.expectations import Checked
    from finml.runtime.delta import Table, WriteResult

log = get_logger("pipelines.silver")

BRONZE, QUARANTINE = contracts.BRONZE_TRADES.name, contracts.SILVER_QUARANTINE.name
GOLD_DAILY = contracts.GOLD_BARS_DAILY.name
SILVER_REQUIRED = ("symbol", "price", "volume", "ts")
BRONZE_REQUIRED = ("s", "p", "v", "t")


def reference_prices(ctx: BatchContext, typed: DataFrame) -> DataFrame:
    """Per symbol, the price the band rule compares with (:func:`band_reference`): gold's
    daily closes as planned, else this batch's plausible prices. Returns symbol,
    ``_ref_price``."""
    daily = ctx.state(GOLD_DAILY)
    history = None if daily is None else ctx.tables.table(GOLD_DAILY).read(version=daily)
    return band_reference(typed, history, ctx.quality)


def silver_batch(ctx: BatchContext) -> list[QualityRecord]:
    """One batch of bronze trades -> quarantine, then silver; returns the bronze and silver
    quality records of the batch."""
    batch = ctx.batch
    increment = ctx.increment()
    measures = {
        **non_null_measures(SILVER_REQUIRED),
        **non_null_measures(BRONZE_REQUIRED, "bronze_"),
    }
    typed = typed_trades(increment)
    typed = typed_trades(increment, reference_prices(ctx, typed))
    rules = expectations_for(SILVER_TRADES, ctx.quality.sql_params())
    split = observe(typed, rules, SILVER_TRADES, measures)
    small = ctx.small(DRIVER_ROWS)  # then both writes go from the driver (see DRIVER_ROWS)
    quarantined = _append_quarantine(ctx, split.quarantined, small)
    valid = with_trade_identity(split.valid).select(*SILVER_COLUMNS)
    written, inserted = _append_new_trades(ctx, valid, small)
    checked = split.result(written=not (quarantined.skipped or written.skipped))
    log.info(
        "silver_done",
        batch=batch.number,
        bronze_versions=f"{batch.start}..{batch.end}",
        rows_in=checked.rows_in,
        inserted=inserted,
        quarantined=checked.rows_quarantined,
    )
    return _quality_records(ctx, increment, checked, inserted)


def _append_quarantine(ctx: BatchContext, quarantined: DataFrame, small: bool) -> WriteResult:
    """Append the batch's quarantined rows (with their bronze version) to the quarantine;
    collected first when the batch is ``small``."""
    quarantine = with_trade_identity(quarantined).withColumn(
        "_bronze_version", F.lit(ctx.batch.end).cast("long")
    )
    rows = quarantine.select(*contracts.SILVER_QUARANTINE.column_names)
    return ctx.tables.table(QUARANTINE).append(
        rows.toArrow() if small else rows,
        txn=ctx.txn(QUARANTINE),
        partition_by=contracts.SILVER_QUARANTINE.partition_by,
        schema_evolution=True,
    )


def _append_new_trades(ctx: BatchContext, valid: DataFrame, small: bool) -> tuple[WriteResult, int]:
    """Append the valid trades silver does not hold yet (collected first when the batch
    is ``small``); returns the write and the rows it inserted (counted again when the
    write was skipped as already committed)."""
    silver = ctx.tables.table(SILVER_TRADES)
    known = ctx.state(SILVER_TRADES)
    if small:
        new = deduplicate(valid)
        rows: DataFrame | pa.Table = _not_in_silver(silver, known, new.toArrow())
    else:
        existing = silver.read(version=known).select("trade_id") if known is not None else None
        new = rows = deduplicate(valid, existing)
    written = silver.append(
        rows, txn=ctx.txn(SILVER_TRADES), partition_by=contracts.SILVER_TRADES.partition_by
    )
    if not written.skipped:
        return written, int(written.rows or 0)
    return written, rows.num_rows if isinstance(rows, pa.Table) else new.count()


def _not_in_silver(silver: Table, known: int | None, unique: pa.Table) -> pa.Table:
    """``unique`` minus the trades silver held at version ``known``. A trade's id hashes
    its time, so only silver's ids within the batch's time range are read (on the driver,
    bounds pushed down to the files' statistics), not a scan of all of silver."""
    if known is None or unique.num_rows == 0:
        return unique
    ts = unique.column("ts")
    held = silver.to_arrow(known, within("ts", ts, timedelta(microseconds=1))).column("trade_id")
    return unique.filter(pc.invert(pc.is_in(unique.column("trade_id"), value_set=held)))


def _quality_records(
    ctx: BatchContext, increment: DataFrame, checked: Checked, inserted: int
) -> list[QualityRecord]:
    """The bronze and silver quality records of the batch."""
    rows, values = checked.rows_in, checked.measures
    bronze_unique = distinct_keys(increment, ("_raw", "_source_file")) / rows if rows else 1.0
    parse_errors = checked.failures.get("parsed_record", 0)
    return [
        ctx.record(
            "bronze",
            BRONZE,
            rows_in=rows,
            rows_out=rows,
            rule_failures={"parsed_record": parse_errors},
            completeness=completeness(values, rows, BRONZE_REQUIRED, "bronze_"),
            uniqueness=bronze_unique,
            validity=1 - parse_errors / rows if rows else 1.0,
        ),
        ctx.record(
            "silver",
            SILVER_TRADES,
            rows_in=rows,
            rows_out=inserted,
            rows_quarantined=checked.rows_quarantined,
            rows_dropped=checked.rows_dropped,
            duplicates_removed=checked.rows_valid - inserted,
            rule_failures=checked.failures,
            completeness=completeness(values, rows, SILVER_REQUIRED),
            uniqueness=inserted / checked.rows_valid if checked.rows_valid else 1.0,
            validity=checked.rows_valid / rows if rows else 1.0,
        ),
    ]


SILVER_STAGE = Stage(
    name="silver_trades",
    source=BRONZE,
    targets=(QUARANTINE, SILVER_TRADES),
    reads=(GOLD_DAILY,),
    execute=silver_batch,
    legacy_app=f"{SILVER_TRADES}<-{BRONZE}",
)
