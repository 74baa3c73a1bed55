"""Parallel writes for the delta-rs engine: Spark writes Parquet, delta-rs commits the files.

Rows never pass through the Python driver: Spark's executors write Parquet into a staging
folder inside the table (``_finml_staging/<uuid>``, ignored by Delta readers because it
starts with ``_``); the files are moved into place and one Delta commit adds them, with
statistics read from the Parquet footers so readers can skip files. A crash before the
commit leaves only unreferenced files, which readers never see (they list files from the
log) and ``vacuum`` removes.

Valid on a local/POSIX file system, which is where the delta-rs engine runs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow.parquet as pq
from deltalake.transaction import AddAction

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

STAGING_DIR = "_finml_staging"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_MAX_STRING_STAT = 32  # Delta truncates string stats; only exact short values are safe.


def stage_and_collect(df: DataFrame, root: Path, partition_by: tuple[str, ...]) -> list[AddAction]:
    """Write ``df`` as Parquet with Spark, move the files under ``root`` and return the
    add actions describing them (not yet committed)."""
    staging = root / STAGING_DIR / uuid.uuid4().hex
    writer = df.write.mode("overwrite").option("compression", "snappy")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(str(staging))
    try:
        return [
            _move_into_table(file, staging, root) for file in sorted(staging.rglob("*.parquet"))
        ]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def discard(root: Path, actions: list[AddAction]) -> None:
    """Delete the data files of ``actions`` that were staged but will never be committed
    (the write was skipped by its transaction id, or failed), so they leave no orphans."""
    for action in actions:
        (root / action.path).unlink(missing_ok=True)  # the on-disk relative path


def clean_staging(root: Path) -> int:
    """Remove leftovers of interrupted writes; returns the number of folders removed."""
    base = root / STAGING_DIR
    if not base.is_dir():
        return 0
    leftovers = [p for p in base.iterdir() if p.is_dir()]
    for folder in leftovers:
        shutil.rmtree(folder, ignore_errors=True)
    return len(leftovers)


def _move_into_table(file: Path, staging: Path, root: Path) -> AddAction:
    relative = file.relative_to(staging)
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(file, target)
    partition_values = {}
    for part in relative.parent.parts:
        key, _, value = part.partition("=")
        partition_values[unquote(key)] = None if value == _HIVE_NULL else unquote(value)
    stat = target.stat()
    return AddAction(
        path=relative.as_posix(),  # delta-rs percent-encodes it into the log itself
        size=stat.st_size,
        partition_values=partition_values,
        modification_time=int(stat.st_mtime * 1000),
        data_change=True,
        stats=json.dumps(footer_stats(target, set(partition_values))),
    )


def footer_stats(file: Path, skip: set[str]) -> dict[str, Any]:
    """Delta file statistics (numRecords, nullCount, and min/max where exact) from a
    Parquet footer.

    Min/max are kept only where they are safe for data skipping: integers, dates,
    timestamps (widened to whole milliseconds, the precision of Delta's stats) and strings of
    at most 32 characters. Floating-point columns get no min/max, since Parquet statistics
    leave out NaN.
    """
    meta = pq.read_metadata(file)
    null_count: dict[str, int] = {}
    bounds: dict[str, list[Any]] = {}
    for rg_index in range(meta.num_row_groups):
        row_group = meta.row_group(rg_index)
        for col_index in range(row_group.num_columns):
            column = row_group.column(col_index)
            name = column.path_in_schema
            if "." in name or name in skip:
                continue  # nested field or partition column (not in the file)
            statistics = column.statistics
            if statistics is None or not statistics.has_null_count:
                null_count.pop(name, None)
                bounds.pop(name, None)
                continue
            null_count[name] = null_count.get(name, 0) + statistics.null_count
            _update_bounds(bounds, name, statistics)
    min_values = {k: _json_stat(v[0], floor=True) for k, v in bounds.items() if v}
    max_values = {k: _json_stat(v[1], floor=False) for k, v in bounds.items() if v}
    return {
        "numRecords": meta.num_rows,
        "minValues": {k: v for k, v in min_values.items() if v is not None},
        "maxValues": {k: v for k, v in max_values.items() if v is not None},
        "nullCount": null_count,
    }


def _update_bounds(bounds: dict[str, list[Any]], name: str, statistics: Any) -> None:
    if not statistics.has_min_max:
        if statistics.null_count != statistics.num_values:
            bounds[name] = []  # some values have no bounds: no min/max for this column
        return
    try:
        low, high = statistics.min, statistics.max
    except (UnicodeDecodeError, ValueError):
        # A string column holding bytes that are not UTF-8: pyarrow cannot decode its
        # bounds. Such a column gets no min/max (readers then just never skip on it); the
        # commit must not fail over statistics.
        bounds[name] = []
        return
    if not _safe_bound(low) or not _safe_bound(high):
        bounds[name] = []
        return
    current = bounds.get(name)
    if current is None:
        bounds[name] = [low, high]
    elif current:
        current[0], current[1] = min(current[0], low), max(current[1], high)


def _safe_bound(value: Any) -> bool:
    if isinstance(value, bool | float):
        return False
    if isinstance(value, str):
        return len(value) <= _MAX_STRING_STAT
    return isinstance(value, int | date | datetime)


def _json_stat(value: Any, *, floor: bool) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        millis = value.timestamp() * 1000
        millis = math.floor(millis) if floor else math.ceil(millis)
        rounded = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
        return rounded.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rounded.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return value
