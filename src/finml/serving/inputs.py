"""Request bodies → :class:`~finml.serving.records.Records`, validated.

Two paths, one contract. The fast path takes what valid requests look like: orjson parses the
body once, and all records are checked together — every record an object whose keys are the
features plus optional entity fields, every feature a JSON number within its bound (one
float64 matrix, checked by numpy), ``symbol``/``trade_id`` strings of allowed length, ``ts``
parsed by pydantic in one call for the whole column. Whatever it does not accept outright goes
to the pydantic record model (JSON's NaN and Infinity, numbers beyond a bound, numeric
strings, booleans, wrong types, missing or extra fields): pydantic alone decides what is
invalid and words every 422 (record index, field, reason), so the fast path changes the
speed, never the answer.

Both routes take JSON only (the handler answers 415 otherwise, before reading the body).
``/predict`` keeps FastAPI's reading of a JSON body (``json.loads``; an empty body is a
missing body).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from finml.serving.limits import FLOAT64_MAX
from finml.serving.records import Records
from finml.serving.schemas import ENTITY_FIELDS, KEY_LENGTHS, batch_model, record_model

_TS = TypeAdapter(list[datetime | None])


class RequestParser:
    """Parses and validates the bodies of ``/predict`` and ``/predict/batch``.

    Raises (from :meth:`one` and :meth:`many`):
        RequestValidationError: the body is not valid (a 422 naming index, field, reason).
        HTTPException: 400 when the ``/predict`` body is not UTF-8 (FastAPI's answer).
    """

    def __init__(
        self,
        features: tuple[str, ...],
        max_batch: int,
        bounds: tuple[float, ...] | None = None,
        optional: frozenset[str] = frozenset(),
    ) -> None:
        self.features = features
        self.bounds = bounds if bounds is not None else (FLOAT64_MAX,) * len(features)
        # The fast path takes records with every feature a number; a null or absent
        # optional feature goes to the record model, which allows it.
        self.record: type[BaseModel] = record_model(features, self.bounds, optional)
        self.batch: type[BaseModel] = batch_model(self.record, max_batch)
        self._bound_row = np.array(self.bounds, dtype=np.float64)
        self._required = frozenset(features)  # of the fast path (see above)
        self._allowed = self._required | frozenset(ENTITY_FIELDS)
        self._fields = tuple(f"f{i}" for i in range(len(features)))  # see schemas
        getter = operator.itemgetter(*features)
        self._row: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            getter if len(features) > 1 else lambda item: (getter(item),)
        )

    def one(self, body: bytes) -> Records:
        """The JSON body of ``/predict``: one record object."""
        if not body:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
            )
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

    def records(self, items: list[Any]) -> Records:
        """Records already decoded from JSON (``/invocations``): the same checks as
        :meth:`many`, errors located at ``records[i]``.

        Raises:
            RequestValidationError: an item is not a valid record.
        """
        fast = self._many(items) if items else None
        if fast is not None:
            return fast
        try:
            batch = self.batch.model_validate({"records": items})
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        return self._from_models(batch.records)  # type: ignore[attr-defined]

    def _one(self, item: dict[str, Any]) -> Records | None:
        if not (item.keys() >= self._required and item.keys() <= self._allowed):
            return None
        values = self._row(item)
        for v, bound in zip(values, self.bounds, strict=True):
            # not a bool (its type is bool, not int); NaN and inf fail the comparison
            if not ((type(v) is float or type(v) is int) and -bound <= v <= bound):
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
        values = _number_matrix(list(map(self._row, items)), self._bound_row)
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


def _number_matrix(rows: list[tuple[Any, ...]], bounds: np.ndarray) -> np.ndarray | None:
    """``rows`` as float64 if every value is a JSON number (not a boolean) of magnitude at
    most its column's bound in ``bounds``, else None.

    numpy infers the type of the whole matrix at once: floats and ints give a numeric kind;
    anything else (None, a string, a list, an integer beyond 64 bits, only booleans) another
    kind, a ragged shape or an error. A boolean among numbers becomes 0 or 1, so only the
    cells holding exactly 0 or 1 are looked at for one. NaN and inf fail the bound.
    """
    try:
        matrix = np.array(rows)
    except (ValueError, TypeError):
        return None
    if matrix.dtype.kind not in "fi" or matrix.shape != (len(rows), len(bounds)):
        return None
    matrix = matrix.astype(np.float64, copy=False)
    if not (np.abs(matrix) <= bounds).all():
        return None
    return None if _has_bool(rows, matrix) else matrix


def _has_bool(rows: list[tuple[Any, ...]], matrix: np.ndarray) -> bool:
    """True if a cell of ``rows`` is a JSON boolean (numpy made it 0.0 or 1.0 in ``matrix``)."""
    cells = np.nonzero((matrix == 0.0) | (matrix == 1.0))
    return any(type(rows[i][j]) is bool for i, j in zip(*(c.tolist() for c in cells), strict=True))
