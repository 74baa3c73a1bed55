"""A third reader for Delta tables, independent of both engines: replay ``_delta_log`` by
hand (the protocol's checkpoint + JSON commits) and read the live Parquet files with
pyarrow. Tests compare it with delta-spark and delta-rs; it shares no code with FinML.

Supports what FinML's tables use: checkpoints (single-part), adds/removes, partition
values, ``txn`` actions. Deletion vectors and column mapping are refused, not ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass
class Snapshot:
    version: int
    files: dict[str, dict[str, str | None]] = field(default_factory=dict)  # path -> partitions
    txns: dict[str, int] = field(default_factory=dict)  # appId -> version
    schema: list[dict] = field(default_factory=list)
    partition_columns: list[str] = field(default_factory=list)
    configuration: dict[str, str] = field(default_factory=dict)
    checkpoint: int | None = None


def replay(location: str | Path) -> Snapshot:
    """The latest snapshot of the table at ``location``, from its log alone."""
    log = Path(location) / "_delta_log"
    commits = sorted(int(p.stem) for p in log.glob("*.json") if p.stem.isdigit())
    checkpoints = sorted(int(p.name.split(".")[0]) for p in log.glob("*.checkpoint.parquet"))
    snapshot = Snapshot(version=max(commits + checkpoints))
    start = 0
    if checkpoints:
        snapshot.checkpoint = checkpoints[-1]
        for action in pq.read_table(log / f"{checkpoints[-1]:020d}.checkpoint.parquet").to_pylist():
            _apply(snapshot, {k: v for k, v in action.items() if v is not None})
        start = checkpoints[-1] + 1
    for version in (v for v in commits if v >= start):
        for line in (log / f"{version:020d}.json").read_text().splitlines():
            if line.strip():
                _apply(snapshot, json.loads(line))
    return snapshot


def _apply(snapshot: Snapshot, action: dict) -> None:
    if "add" in action:
        add = action["add"]
        if add.get("deletionVector"):
            raise NotImplementedError("deletion vectors are not replayed here")
        snapshot.files[unquote(add["path"])] = dict(add.get("partitionValues") or {})
    elif "remove" in action:
        snapshot.files.pop(unquote(action["remove"]["path"]), None)
    elif "txn" in action:
        snapshot.txns[action["txn"]["appId"]] = int(action["txn"]["version"])
    elif "metaData" in action:
        meta = action["metaData"]
        snapshot.schema = json.loads(meta["schemaString"])["fields"]
        snapshot.partition_columns = list(meta.get("partitionColumns") or [])
        snapshot.configuration = dict(meta.get("configuration") or {})
        if snapshot.configuration.get("delta.columnMapping.mode", "none") != "none":
            raise NotImplementedError("column mapping is not replayed here")


_PRIMITIVE = {
    "string": pa.string(),
    "long": pa.int64(),
    "integer": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
    "binary": pa.binary(),
}


def read(location: str | Path) -> list[dict]:
    """Every live row of the table, as dicts (partition columns from the log)."""
    snapshot = replay(location)
    rows: list[dict] = []
    for path, partitions in sorted(snapshot.files.items()):
        data = pq.read_table(Path(location) / path)
        for name in snapshot.partition_columns:
            kind = next(f["type"] for f in snapshot.schema if f["name"] == name)
            value = partitions.get(name)
            column = pa.array([value] * data.num_rows, pa.string())
            if isinstance(kind, str) and kind in _PRIMITIVE and kind != "string":
                column = pc.cast(column, _PRIMITIVE[kind])
            data = data.append_column(name, column)
        rows.extend(data.to_pylist())
    return rows


def canonical(rows: list[dict]) -> list[tuple]:
    """Rows as sorted tuples of comparable values: datetimes in UTC (naive ones taken as
    UTC, as Spark's INT96 and delta-rs' micros both store UTC instants), floats by repr."""

    def value(v: object) -> object:
        if isinstance(v, datetime):
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return tuple(value(x) for x in v)
        if isinstance(v, dict):
            return tuple(sorted((k, value(x)) for k, x in v.items()))
        return v

    return sorted((tuple(sorted((k, value(v)) for k, v in r.items())) for r in rows), key=repr)
