"""The rows of the inference log: the contract schema, :class:`LogBatch` (what a request
hands over) and :func:`to_arrow` (what is appended to Delta).

Who writes them, and when, is :mod:`finml.serving.log_writer` (the serving process) and
:mod:`finml.serving.log_process` (the writer process that owns the Delta appends).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa

if TYPE_CHECKING:
    from finml.serving.records import Records

_TS = pa.timestamp("us", tz="UTC")
_EPOCH, _MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
INFERENCE_LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("logged_at", _TS),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("variant", pa.string()),
        ("symbol", pa.string()),
        ("ts", _TS),
        ("trade_id", pa.string()),
        ("inputs", pa.string()),
        ("inputs_hash", pa.string()),
        ("score", pa.float64()),
        ("prediction", pa.int32()),
        ("latency_ms", pa.float64()),
    ]
)


@dataclass(frozen=True, slots=True)
class LogBatch:
    """The predictions of one model for the records of one request, as the handler has
    them (column-wise, so logging a 10k-record batch costs one object, not 10k); the writer
    thread turns it into rows."""

    request_id: str
    logged_at: datetime
    model_name: str
    model_version: int
    variant: str
    names: tuple[str, ...]  # feature names, in the column order of ``records.values``
    records: Records
    scores: Sequence[float]
    predictions: Sequence[int]
    latency_ms: float

    def __len__(self) -> int:
        return len(self.records)


def inputs_json(names: tuple[str, ...], values: Sequence[float]) -> str:
    """Canonical JSON of a record's features (sorted keys, no spaces)."""
    return json.dumps(dict(zip(names, values, strict=True)), sort_keys=True, separators=(",", ":"))


def inputs_payloads(names: tuple[str, ...], values: np.ndarray) -> list[str]:
    """:func:`inputs_json` of every row of ``values``, character for character, at a
    fraction of the cost (it runs on the writer thread, which shares the GIL with requests).

    ``json`` writes a float as ``repr`` does, and ``repr`` costs ~0.6 µs a float; orjson
    writes the same characters (shortest round-trip digits) wherever ``repr`` uses fixed
    notation, i.e. 1e-4 <= |x| < 1e16 or 0. All rows are written by one orjson call and one
    template per feature list; a row with any other value takes :func:`inputs_json` itself.
    """
    if len(values) < 16:  # a few rows: the vectorised set-up would cost more than it saves
        return [inputs_json(names, row) for row in values.tolist()]
    order = sorted(range(len(names)), key=names.__getitem__)
    ordered = values[:, order]
    template = _template(tuple(names[i] for i in order))
    text = orjson.dumps(ordered.tolist()).decode()
    payloads = [template % tuple(row.split(",")) for row in text[2:-2].split("],[")]
    magnitude = np.abs(ordered)
    fixed = ((magnitude >= 1e-4) & (magnitude < 1e16)) | (magnitude == 0)
    for i in np.flatnonzero(~fixed.all(axis=1)).tolist():
        payloads[i] = inputs_json(names, values[i].tolist())
    return payloads


@lru_cache(maxsize=16)
def _template(sorted_names: tuple[str, ...]) -> str:
    """``{"name":%s,...}``: the keys as ``json`` writes them, a slot for each value."""
    keys = (json.dumps(name).replace("%", "%%") for name in sorted_names)
    return "{" + ",".join(f"{key}:%s" for key in keys) + "}"


def to_arrow(batches: list[LogBatch], log_inputs: bool = True) -> pa.Table:
    """``batches`` as one table in the ``inference_log`` contract schema, rows in batch order."""
    payloads = batch_payloads(batches)
    columns: dict[str, list[Any]] = {name: [] for name in INFERENCE_LOG_SCHEMA.names}
    for b, texts in zip(batches, payloads, strict=True):
        n = len(b)
        columns["request_id"] += [b.request_id] * n
        columns["logged_at"] += [epoch_micros(b.logged_at)] * n  # ints: ~10x cheaper for Arrow
        columns["model_name"] += [b.model_name] * n
        columns["model_version"] += [str(b.model_version)] * n
        columns["variant"] += [b.variant] * n
        columns["symbol"] += b.records.symbols
        columns["ts"] += [_utc(t) for t in b.records.ts]
        columns["trade_id"] += b.records.trade_ids
        columns["inputs"] += texts if log_inputs else [None] * n
        columns["inputs_hash"] += [hashlib.sha256(p.encode()).hexdigest() for p in texts]
        columns["score"] += list(b.scores)
        columns["prediction"] += list(b.predictions)
        columns["latency_ms"] += [b.latency_ms] * n
    return pa.table(columns, schema=INFERENCE_LOG_SCHEMA)


def batch_payloads(batches: list[LogBatch]) -> list[list[str]]:
    """:func:`inputs_json` of every record, per batch: the records of all batches with the
    same feature names go through one :func:`inputs_payloads` call, so a thousand
    single-record requests cost one vectorised call, not a thousand ``json.dumps``."""
    out: list[list[str]] = [[] for _ in batches]
    by_names: dict[tuple[str, ...], list[int]] = {}
    for i, b in enumerate(batches):
        if len(b):
            by_names.setdefault(b.names, []).append(i)
    for names, indices in by_names.items():
        texts = inputs_payloads(names, np.concatenate([batches[i].records.values for i in indices]))
        start = 0
        for i in indices:
            out[i] = texts[start : start + len(batches[i])]
            start += len(batches[i])
    return out


def epoch_micros(value: datetime) -> int:
    """Microseconds since the epoch (a naive time is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # a naive event time is taken as UTC
