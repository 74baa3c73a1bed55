"""Request parsing: the column-wise fast path gives exactly pydantic's answers, faster."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from finml.serving.http import describe_errors
from finml.serving.inputs import RequestParser
from finml.serving.records import Records

FEATURES = ("a", "b-c")  # a name that is no Python identifier, as real columns may be
PARSER = RequestParser(FEATURES, max_batch=100)
GOOD = {"a": 1.5, "b-c": -2}


def batch(*records: Any) -> bytes:
    return json.dumps({"records": list(records)}).encode()


def errors_of(call: Any, *args: Any) -> list[str]:
    with pytest.raises(RequestValidationError) as info:
        call(*args)
    return describe_errors(list(info.value.errors()))


def reference_many(body: bytes) -> Records | list[str]:
    """What the batch route answered before the fast path: pydantic alone."""
    try:
        models = PARSER.batch.model_validate_json(body).records  # type: ignore[attr-defined]
    except ValidationError as exc:
        return describe_errors(exc.errors(include_url=False))
    return PARSER._from_models(models)


def reference_one(body: bytes) -> Records | list[str]:
    """What FastAPI answered for a JSON body parameter: json.loads, then pydantic."""
    try:
        model = PARSER.record.model_validate(json.loads(body), from_attributes=True)
    except ValidationError as exc:
        return describe_errors(exc.errors(include_url=False))
    return PARSER._from_models([model])


def answer(call: Any, *args: Any) -> Records | list[str]:
    try:
        return call(*args)  # type: ignore[no-any-return]
    except RequestValidationError as exc:
        return describe_errors(list(exc.errors()))


def same(got: Records | list[str], expected: Records | list[str]) -> None:
    if isinstance(expected, list):
        assert got == expected
        return
    assert isinstance(got, Records), got
    np.testing.assert_array_equal(got.values, expected.values)
    assert got.values.dtype == np.float64
    assert (got.symbols, got.ts, got.trade_ids) == (
        expected.symbols,
        expected.ts,
        expected.trade_ids,
    )


def test_valid_batch_is_one_matrix_with_entity_columns() -> None:
    got = PARSER.many(
        batch(
            GOOD, {**GOOD, "a": 3, "symbol": "AAPL", "ts": "2026-01-05T10:00:00Z", "trade_id": "t"}
        )
    )
    np.testing.assert_array_equal(got.values, [[1.5, -2.0], [3.0, -2.0]])
    assert got.symbols == [None, "AAPL"] and got.trade_ids == [None, "t"]
    assert got.ts == [None, datetime(2026, 1, 5, 10, tzinfo=UTC)]
    assert got.keys() == [None, "AAPL"]


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ('{"a": NaN, "b-c": 1}', "records.1.a", "finite number"),
        ('{"a": 1, "b-c": Infinity}', "records.1.b-c", "finite number"),
        ('{"a": 1, "b-c": -Infinity}', "records.1.b-c", "finite number"),
        ('{"a": 1e400, "b-c": 1}', "records.1.a", "finite number"),
        ('{"a": "wide", "b-c": 1}', "records.1.a", "valid number"),
        ('{"a": null, "b-c": 1}', "records.1.a", "valid number"),
        ('{"a": [1], "b-c": 1}', "records.1.a", "valid number"),
        ('{"a": 1}', "records.1.b-c", "required"),
        ('{"a": 1, "b-c": 1, "x": 0}', "records.1.x", "extra inputs are not permitted"),
        ('{"a": 1, "b-c": 1, "symbol": ""}', "records.1.symbol", "at least 1 character"),
        ('{"a": 1, "b-c": 1, "ts": "soon"}', "records.1.ts", "valid datetime"),
        ("[1, 2]", "records.1", "an object"),
    ],
)
def test_bad_batch_record_is_named_by_index_and_field(record: str, field: str, reason: str) -> None:
    body = f'{{"records": [{json.dumps(GOOD)}, {record}, {json.dumps(GOOD)}]}}'.encode()
    lines = errors_of(PARSER.many, body)
    assert len(lines) == 1 and lines[0].startswith(f"field {field!r}: ") and reason in lines[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"records": []}', "field 'records': list should have at least 1 item"),
        (b"{}", "field 'records': required"),
        (b'{"records": [], "more": 1}', "field 'more': extra inputs are not permitted"),
        (b"not json", "field 'body': invalid json"),
    ],
)
def test_bad_batch_envelope(body: bytes, expected: str) -> None:
    assert any(line.startswith(expected) for line in errors_of(PARSER.many, body))


def test_single_record_follows_fastapi_body_rules() -> None:
    assert PARSER.one(json.dumps(GOOD).encode(), "application/json; charset=utf-8").keys() == [None]
    assert errors_of(PARSER.one, b"", "application/json") == ["field 'body': required, got nothing"]
    assert "dictionary or object" in errors_of(PARSER.one, json.dumps(GOOD).encode(), None)[0]
    assert errors_of(PARSER.one, b"{", "application/json")[0].startswith("field '1': json decode")
    lax = PARSER.one(b'{"a": "0.25", "b-c": true}', "application/vnd.x+json")  # pydantic's lax
    np.testing.assert_array_equal(lax.values, [[0.25, 1.0]])


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([None, True, False, "1.5", "x", [], {}, "NaN"]),
)
texts = st.one_of(st.none(), st.text(max_size=70), st.integers())
stamps = st.one_of(
    st.none(),
    st.sampled_from(["2026-01-05T10:00:00", "2026-01-05", "soon", "1700000000", 1_700_000_000]),
    st.floats(allow_nan=False, allow_infinity=False),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "a": values,
        "b-c": values,
        "symbol": texts,
        "ts": stamps,
        "trade_id": texts,
        "extra": values,
    },
)
mostly_valid = st.fixed_dictionaries(
    {"a": st.floats(-1e6, 1e6), "b-c": st.integers(-100, 100)},
    optional={"symbol": st.sampled_from(["AAPL", "MSFT", None]), "ts": stamps},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(mostly_valid, records), min_size=1, max_size=6))
def test_batch_answers_exactly_as_pydantic_alone(items: list[dict[str, Any]]) -> None:
    body = json.dumps({"records": items}).encode()
    same(answer(PARSER.many, body), reference_many(body))


@settings(max_examples=300, deadline=None)
@given(st.one_of(mostly_valid, records))
def test_single_record_answers_exactly_as_fastapi_did(item: dict[str, Any]) -> None:
    body = json.dumps(item).encode()
    same(answer(PARSER.one, body, "application/json"), reference_one(body))
