"""Request bodies → :class:`~finml.serving.records.Records`, validated.

Two paths, one contract. The fast path takes what valid requests look like: orjson parses the
body once, and all records are checked together — every record an object whose keys are the
features plus optional entity fields, every feature a finite JSON number (one float64 matrix,
checked by numpy), ``symbol``/``trade_id`` strings of allowed length, ``ts`` parsed by
pydantic in one call for the whole column. Whatever it does not accept outright goes to the
pydantic record model exactly as before (JSON's NaN and Infinity, numeric strings, wrong
types, missing or extra fields): pydantic alone decides what is invalid and words
every 422 (record index, field, reason), so the fast path changes the speed, never the answer.

``/predict`` follows FastAPI's rules for a JSON body (read by ``json.loads``, Content-Type
honoured, an empty body is a missing body); ``/predict/batch`` is parsed as JSON whatever
its Content-Type, as it always was.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from finml.serving.records import Records
from finml.serving.schemas import ENTITY_FIELDS, KEY_LENGTHS, batch_model, record_model

_TS = TypeAdapter(list[datetime | None])


class RequestParser:
    """Parses and validates the bodies of ``/predict`` and ``/predict/batch``.

    Raises (from :meth:`one` and :meth:`many`):
        RequestValidationError: the body is not valid (a 422 naming index, field, reason).
        HTTPException: 400 when the ``/predict`` body is not UTF-8 (FastAPI's answer).
    """

    def __init__(self, features: tuple[str, ...], max_batch: int) -> None:
        self.features = features
        self.record: type[BaseModel] = record_model(features)
        self.batch: type[BaseModel] = batch_model(self.record, max_batch)
        self._required = frozenset(features)
        self._allowed = self._required | frozenset(ENTITY_FIELDS)
        self._fields = tuple(f"f{i}" for i in range(len(features)))  # see schemas
        getter = operator.itemgetter(*features)
        self._row: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            getter if len(features) > 1 else lambda item: (getter(item),)
        )

    def one(self, body: bytes, content_type: str | None) -> Records:
        """The body of ``/predict``: one record object."""
        if not body:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
        if not _is_json(content_type):  # FastAPI then validates the raw bytes (and fails)
            return self._from_models([self._validate(body)])
        try:
            item = orjson.loads(body)
        except orjson.JSONDecodeError:
            item = None
        if type(item) is dict:
            fast = self._one(item)
            if fast is not None:
                return fast
        return self._from_models([self._validate(_json_loads(body))])

    def many(self, body: bytes) -> Records:
        """The body of ``/predict/batch``: ``{"records": [record, ...]}`` (at least one)."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if type(doc) is dict and len(doc) == 1 and type(items := doc.get("records")) is list:
            fast = self._many(items) if items else None
            if fast is not None:
                return fast
        try:
            records = self.batch.model_validate_json(body).records  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        return self._from_models(records)

    def _one(self, item: dict[str, Any]) -> Records | None:
        if not (item.keys() >= self._required and item.keys() <= self._allowed):
            return None
        values = self._row(item)
        for v in values:
            if not ((type(v) is float and math.isfinite(v)) or type(v) is int):
                return None
        symbol, ts, trade_id = item.get("symbol"), item.get("ts"), item.get("trade_id")
        if not (_key_ok(symbol, "symbol") and _key_ok(trade_id, "trade_id")):
            return None
        parsed = _parse_ts([ts])
        if parsed is None:
            return None
        return Records(np.array([values], dtype=np.float64), [symbol], parsed, [trade_id])

    def _many(self, items: list[Any]) -> Records | None:
        if set(map(type, items)) != {dict}:
            return None
        present: set[str] = set()
        for keys in set(map(frozenset, items)):
            if not (keys >= self._required and keys <= self._allowed):
                return None
            present |= keys
        values = _finite_matrix(list(map(self._row, items)), len(self.features))
        if values is None:
            return None
        n = len(items)
        columns: dict[str, list[Any]] = {}
        for name in ENTITY_FIELDS:
            columns[name] = [i.get(name) for i in items] if name in present else [None] * n
        for name in KEY_LENGTHS:
            if name in present and not all(_key_ok(v, name) for v in columns[name]):
                return None
        ts = _parse_ts(columns["ts"]) if "ts" in present else columns["ts"]
        if ts is None:
            return None
        return Records(values, columns["symbol"], ts, columns["trade_id"])

    def _validate(self, body: Any) -> BaseModel:
        """FastAPI's validation of a body parameter (python mode, from attributes, loc under
        ``body``): the same errors, word for word."""
        try:
            return self.record.model_validate(body, from_attributes=True)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    def _from_models(self, models: list[Any]) -> Records:
        # Attribute reads, not model_dump(by_alias=True): far cheaper on a large batch.
        return Records.of(
            [tuple(map(m.__getattribute__, self._fields)) for m in models],
            [m.symbol for m in models],
            [m.ts for m in models],
            [m.trade_id for m in models],
        )


def _is_json(content_type: str | None) -> bool:
    """FastAPI's test (``email.message`` parsing): ``application/json`` or ``+json``."""
    if not content_type:
        return False  # FastAPI's strict_content_type: no Content-Type, no JSON
    kind = content_type.partition(";")[0].strip().lower()
    if kind.count("/") != 1:
        return False
    main, sub = kind.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _json_loads(body: bytes) -> Any:
    """``json.loads`` with FastAPI's answers: 422 ``json_invalid`` naming the position, or
    400 for a body that is not even text."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except Exception:
        raise HTTPException(400, "There was an error parsing the body") from None


def _key_ok(value: Any, name: str) -> bool:
    return value is None or (type(value) is str and 0 < len(value) <= KEY_LENGTHS[name])


def _parse_ts(values: list[Any]) -> list[datetime | None] | None:
    """The ``ts`` column parsed as the record model parses it; None if any value fails."""
    if all(v is None for v in values):
        return values
    try:
        return _TS.validate_python(values)
    except ValidationError:
        return None


def _finite_matrix(rows: list[tuple[Any, ...]], width: int) -> np.ndarray | None:
    """``rows`` as float64 if every value is a finite JSON number, else None.

    numpy infers the type of the whole matrix at once: floats and ints give a numeric kind;
    anything else (None, a string, a list, an integer beyond 64 bits, only booleans) another
    kind, a ragged shape or an error. A boolean among numbers becomes 0/1, as pydantic's
    float field makes it.
    """
    try:
        matrix = np.array(rows)
    except (ValueError, TypeError):
        return None
    if matrix.dtype.kind not in "fi" or matrix.shape != (len(rows), width):
        return None
    matrix = matrix.astype(np.float64, copy=False)
    return matrix if np.isfinite(matrix).all() else None
