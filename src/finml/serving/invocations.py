"""MLflow's scoring protocol: the bodies of ``POST /invocations`` as ``mlflow models serve``
and Databricks Model Serving take them, turned into the records ``/predict/batch`` takes.

A JSON object with exactly one of

* ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (``index`` ignored),
* ``dataframe_records``: ``[{column: value, ...}, ...]``,
* ``inputs`` or ``instances``: records as above, or ``{column: [values...]}``,

and optionally ``params`` (this model takes none). ``NaN`` (which MLflow writes into its own
serving examples) is read as a missing value. Columns beyond the model's features and
the entity fields are dropped, as MLflow's schema enforcement drops them; then each record is
validated like a ``/predict/batch`` record (the signature's required features finite numbers
within bounds, optional ones also null or absent). A body this module cannot read answers
400 with MLflow's error body (``error_code`` ``BAD_REQUEST`` and a ``message``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


class ProtocolError(ValueError):
    """The body is not one of MLflow's scoring payloads (answered with 400 BAD_REQUEST)."""


def payload_records(body: bytes, columns: frozenset[str]) -> list[Any]:
    """The records of an ``/invocations`` JSON ``body``, each keeping only ``columns``.

    Raises:
        ProtocolError: not JSON, not an object with exactly one of :data:`FORMATS`, or a
            format whose shape is wrong; the message says what was expected and found.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = _lenient_json(body)
    if not isinstance(doc, dict):
        raise ProtocolError(f"body: expected a JSON object, got {type(doc).__name__}")
    found = [k for k in FORMATS if k in doc]
    unknown = sorted(set(doc) - set(FORMATS) - {"params"})
    if len(found) != 1 or unknown:
        raise ProtocolError(
            f"body: expected exactly one of {', '.join(FORMATS)} (and optionally params), "
            f"got {sorted(doc)}"
        )
    if doc.get("params"):
        raise ProtocolError(f"params: expected none (the model takes none), got {doc['params']}")
    key = found[0]
    rows = _split(doc[key]) if key == "dataframe_split" else _records(doc[key], key)
    return [_kept(row, columns) if isinstance(row, dict) else row for row in rows]


def _lenient_json(body: bytes) -> Any:
    """JSON as Python's ``json`` reads it: MLflow's own ``serving_input_example.json``
    writes a missing value as the bare token ``NaN``, which strict parsers refuse."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"body: expected JSON, got {exc}") from None


def _kept(row: dict[str, Any], columns: frozenset[str]) -> dict[str, Any]:
    """``row``'s ``columns``, a NaN read as the missing value it stands for."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v
            for k, v in row.items() if k in columns}  # fmt: skip


def _split(value: Any) -> list[Any]:
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise ProtocolError("dataframe_split: expected {columns: [...], data: [[...], ...]}")
    names, data = value["columns"], value.get("data")
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise ProtocolError("dataframe_split.data: expected a list of rows (lists)")
    bad = [i for i, r in enumerate(data) if len(r) != len(names)]
    if bad:
        raise ProtocolError(
            f"dataframe_split.data[{bad[0]}]: expected {len(names)} values (one per column), "
            f"got {len(data[bad[0]])}"
        )
    return [dict(zip(names, row, strict=True)) for row in data]


def _records(value: Any, key: str) -> list[Any]:
    if isinstance(value, list):
        return value  # each item is validated as a record
    if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
        lengths = {len(v) for v in value.values()}
        if len(lengths) > 1:
            raise ProtocolError(f"{key}: expected columns of one length, got {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        return [{c: v[i] for c, v in value.items()} for i in range(n)]
    raise ProtocolError(f"{key}: expected a list of records or {{column: [values]}}")


def predictions(scored: list[dict[str, Any]]) -> dict[str, Any]:
    """MLflow's response body: the pyfunc's output frame as records."""
    return {"predictions": [{"score": r["score"], "prediction": r["prediction"]} for r in scored]}
