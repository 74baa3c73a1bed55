"""Parquet trade files in the landing zone -> bronze rows, one file at a time.

Spark's Parquet reader fails a whole micro-batch -- forever, since the stream retries the
same files -- on one truncated file or one file whose ``p`` column is text instead of a
double. So landing Parquet files are read as bytes (Spark's ``binaryFile`` source) and
decoded here with pyarrow, each file on its own:

* a readable file gives one bronze row per row, every known field (s, p, v, t) as text
  whatever its Parquet type (silver does the typing and quarantines what does not parse),
  ``c`` as a list of strings, ``_raw`` the row as JSON with its original types, and other
  columns as JSON in ``_rescued_data``;
* an unreadable file (truncated, not Parquet, a column of an unusable type) gives one
  bronze row with ``_parse_error`` = ``unreadable_file: <reason>``, which silver
  quarantines; the other files of the batch proceed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TRADE_FIELDS = ("s", "p", "v", "t", "c")
BRONZE_FIELDS = (
    ("s", pa.string()),
    ("p", pa.string()),
    ("v", pa.string()),
    ("t", pa.string()),
    ("c", pa.list_(pa.string())),
    ("_raw", pa.string()),
    ("_rescued_data", pa.string()),
    ("_parse_error", pa.string()),
    ("_source_file", pa.string()),
)
BRONZE_ARROW_SCHEMA = pa.schema(BRONZE_FIELDS)
BRONZE_DDL = (
    "s string, p string, v string, t string, c array<string>, _raw string, "
    "_rescued_data string, _parse_error string, _source_file string"
)
_REASON_CHARS = 300


def decode_files(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function: batches of (path, content) -> bronze record batches."""
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content")
        for index, path in enumerate(paths):
            content = contents[index].as_buffer()
            yield decode_file(path, content)


def decode_file(path: str, content: pa.Buffer | bytes | None) -> pa.RecordBatch:
    """One landing Parquet file -> its bronze rows (or one unreadable-file row)."""
    try:
        if content is None:
            raise ValueError("the file could not be read")
        table = pq.read_table(pa.BufferReader(content))
        return _bronze_rows(path, table)
    except Exception as exc:  # any decoding failure quarantines the file, never the batch
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:_REASON_CHARS]
        return _unreadable(path, reason)


def _bronze_rows(path: str, table: pa.Table) -> pa.RecordBatch:
    n = table.num_rows
    names = table.column_names
    arrays: dict[str, pa.Array] = {}
    for field in ("s", "p", "v", "t"):
        arrays[field] = _as_text(table, field) if field in names else pa.nulls(n, pa.string())
    arrays["c"] = _conditions(table) if "c" in names else pa.nulls(n, pa.list_(pa.string()))
    known = [f for f in TRADE_FIELDS if f in names]
    extra = [c for c in names if c not in TRADE_FIELDS and not c.startswith("_")]
    arrays["_raw"] = _json_lines(table.select(known)) if known else pa.nulls(n, pa.string())
    arrays["_rescued_data"] = (
        _json_lines(table.select(extra)) if extra else pa.nulls(n, pa.string())
    )
    arrays["_parse_error"] = pa.nulls(n, pa.string())
    arrays["_source_file"] = pa.array([path] * n, pa.string())
    columns = [_whole(arrays[name], name) for name, _ in BRONZE_FIELDS]
    return pa.RecordBatch.from_arrays(columns, schema=BRONZE_ARROW_SCHEMA)


def _whole(values: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    """One contiguous array, checked to hold valid UTF-8 (Parquet readers take strings on
    trust; bronze must never store bytes that are not text).

    Raises:
        ValueError: a value is not valid UTF-8 (names the column).
    """
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    try:
        array.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"column {name!r}: expected UTF-8 text, got {exc}") from None
    return array


def _as_text(table: pa.Table, field: str) -> pa.ChunkedArray:
    """A known field as text, whatever its Parquet type (silver types it).

    Raises:
        ValueError: the column has a type with no text form (a nested type).
    """
    column = table.column(field)
    if pa.types.is_nested(column.type):
        raise ValueError(f"column {field!r}: expected a number or text, got {column.type}")
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        raise ValueError(f"column {field!r}: expected a number or text, got {column.type}")
    return pc.cast(column, pa.string())


def _conditions(table: pa.Table) -> pa.ChunkedArray:
    column = table.column("c")
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pc.cast(column, pa.list_(pa.string()))
    raise ValueError(f"column 'c': expected a list of condition codes, got {column.type}")


def _json_lines(table: pa.Table) -> pa.Array:
    """Each row of ``table`` as a JSON object (original types; NaN/inf as null)."""
    frame: pd.DataFrame = table.to_pandas()
    text = frame.to_json(orient="records", lines=True, date_format="iso", date_unit="ms")
    rows = text.splitlines() if text else []
    return pa.array(rows if len(rows) == len(frame) else _row_by_row(frame), pa.string())


def _row_by_row(frame: pd.DataFrame) -> list[str]:
    return [json.dumps(row, default=str) for row in frame.to_dict(orient="records")]


def _unreadable(path: str, reason: str) -> pa.RecordBatch:
    values: dict[str, list[object]] = {name: [None] for name, _ in BRONZE_FIELDS}
    values["_parse_error"] = [f"unreadable_file: {reason}"]
    values["_source_file"] = [path]
    return pa.RecordBatch.from_pydict(values, schema=BRONZE_ARROW_SCHEMA)
