"""Data-quality measures per layer and run, written to ``data_quality_log``.

Every figure is computed from the rows of the run (never a constant):

* completeness — share of non-null values over the layer's required columns;
* uniqueness — distinct keys / rows;
* validity — rows meeting every blocking expectation / rows in;
* quality_score — the mean of the three, in [0, 1].

There is one row per (table, stage batch): it is written with the batch's transaction id
right after the batch's data (see :mod:`finml.pipelines.stages`), so it is neither lost by a
crash nor repeated by an overlapping run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

DQ_TABLE = "data_quality_log"
DQ_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("layer", pa.string()),
        ("table_name", pa.string()),
        ("source_version", pa.int64()),
        ("rows_in", pa.int64()),
        ("rows_out", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_dropped", pa.int64()),
        ("duplicates_removed", pa.int64()),
        ("rule_failures", pa.map_(pa.string(), pa.int64())),
        ("completeness", pa.float64()),
        ("uniqueness", pa.float64()),
        ("validity", pa.float64()),
        ("quality_score", pa.float64()),
        ("computed_at", pa.timestamp("us", tz="UTC")),
        ("stage", pa.string()),
        ("batch_id", pa.int64()),
        ("source_start_version", pa.int64()),
    ]
)


@dataclass(frozen=True)
class QualityRecord:
    run_id: str
    layer: str
    table_name: str
    source_version: int
    rows_in: int
    rows_out: int
    rows_quarantined: int = 0
    rows_dropped: int = 0
    duplicates_removed: int = 0
    rule_failures: dict[str, int] = field(default_factory=dict)
    completeness: float = 1.0
    uniqueness: float = 1.0
    validity: float = 1.0
    # Which batch of which stage the row describes: source versions after
    # ``source_start_version`` (None: from the first) up to ``source_version``.
    stage: str = ""
    batch_id: int | None = None
    source_start_version: int | None = None

    @property
    def quality_score(self) -> float:
        return (self.completeness + self.uniqueness + self.validity) / 3


def non_null_measures(required: tuple[str, ...], prefix: str = "") -> dict[str, Column]:
    """Non-null counts of ``required`` (plain aggregates: they can be observed during a
    write, see :func:`finml.pipelines.expectations.observe`)."""
    return {f"{prefix}nn_{c}": F.count(F.col(c)) for c in required}


def profile_measures(
    required: tuple[str, ...], key: tuple[str, ...], prefix: str = ""
) -> dict[str, Column]:
    """Aggregates for :func:`from_measures`: non-null counts of ``required`` and the number
    of distinct ``key`` values (see :func:`_key_hash`)."""
    measures = non_null_measures(required, prefix)
    measures[f"{prefix}distinct"] = F.countDistinct(_key_hash(key))
    return measures


def distinct_keys(df: DataFrame, key: tuple[str, ...]) -> int:
    """The number of distinct non-null ``key`` values of ``df`` in a job of its own: a
    shuffle of 8-byte hashes, where a distinct aggregate next to other aggregates would
    shuffle every partial aggregate with them."""
    return df.select(_key_hash(key).alias("h")).where("h IS NOT NULL").distinct().count()


def _key_hash(key: tuple[str, ...]) -> Column:
    """A 64-bit hash of ``key`` (exact for counting barring hash collisions, and far cheaper
    than comparing long strings); NULL when any key column is NULL, so those are not counted."""
    present = F.lit(True)
    for column in key:
        present = present & F.col(column).isNotNull()
    return F.when(present, F.xxhash64(*[F.col(c) for c in key]))


def completeness(
    values: dict[str, int], rows: int, required: tuple[str, ...], prefix: str = ""
) -> float:
    """Share of filled ``required`` cells from :func:`non_null_measures` results (an empty
    input is complete by convention)."""
    if rows == 0 or not required:
        return 1.0
    return sum(int(values[f"{prefix}nn_{c}"]) for c in required) / (rows * len(required))


def from_measures(
    values: dict[str, int], rows: int, required: tuple[str, ...], prefix: str = ""
) -> tuple[float, float]:
    """``(completeness, uniqueness)`` from :func:`profile_measures` results; an empty input
    is complete and unique by convention."""
    if rows == 0:
        return 1.0, 1.0
    return completeness(values, rows, required, prefix), int(values[f"{prefix}distinct"]) / rows


def profile(
    df: DataFrame, required: tuple[str, ...], key: tuple[str, ...]
) -> tuple[int, float, float]:
    """``(rows, completeness, uniqueness)`` of ``df`` in one aggregation."""
    measures = profile_measures(required, key)
    row = df.agg(F.count(F.lit(1)).alias("_rows"), *[c.alias(n) for n, c in measures.items()])
    values = row.first().asDict()  # type: ignore[union-attr]
    rows = int(values["_rows"])
    return (rows, *from_measures(values, rows, required))


def to_arrow(records: list[QualityRecord]) -> pa.Table:
    now = datetime.now(UTC)
    rows = []
    for record in records:
        row = asdict(record)
        row["rule_failures"] = list(record.rule_failures.items())
        row["quality_score"] = record.quality_score
        row["computed_at"] = now
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=DQ_SCHEMA)
