"""Request parsing: the column-wise fast path gives exactly pydantic's answers, faster; out of
range numbers and non-numbers are 422s naming the record and field."""

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
from finml.serving.limits import FLOAT32_MAX, FLOAT64_MAX
from finml.serving.records import Records

FEATURES = ("a", "b-c")  # a name that is no Python identifier, as real columns may be
# "a" as a float32 model column, "b-c" any finite double: both kinds of bound side by side
PARSER = RequestParser(FEATURES, max_batch=100, bounds=(FLOAT32_MAX, FLOAT64_MAX))
GOOD = {"a": 1.5, "b-c": -2}
ABOVE_FLOAT32 = float(np.nextafter(FLOAT32_MAX, np.inf))


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
        ('{"a": "12.5", "b-c": 1}', "records.1.a", "valid number, got '12.5'"),
        ('{"a": 1, "b-c": true}', "records.1.b-c", "valid number, got true"),
        ('{"a": false, "b-c": 1}', "records.1.a", "valid number, got false"),
        ('{"a": null, "b-c": 1}', "records.1.a", "valid number, got null"),
        ('{"a": [1], "b-c": 1}', "records.1.a", "valid number"),
        ('{"a": {"x": 1}, "b-c": 1}', "records.1.a", "valid number, got an object"),
        ('{"a": 1e39, "b-c": 1}', "records.1.a", "at most 3.4028234663852886e+38, got 1e+39"),
        ('{"a": -1e39, "b-c": 1}', "records.1.a", "at most 3.4028234663852886e+38, got -1e+39"),
        (f'{{"a": {ABOVE_FLOAT32!r}, "b-c": 1}}', "records.1.a", "at most 3.4028234663852886e"),
        (f'{{"a": {10**39}, "b-c": 1}}', "records.1.a", "at most 3.4028234663852886e+38"),
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


def test_numbers_up_to_the_bound_are_accepted_exactly() -> None:
    edge = {"a": -FLOAT32_MAX, "b-c": 1e300}  # the float32 bound itself; b-c is any double
    for got in (PARSER.one(json.dumps(edge).encode()), PARSER.many(batch(edge, GOOD))):
        np.testing.assert_array_equal(got.values[0], [-FLOAT32_MAX, 1e300])
    # zeros and ones are numbers, not booleans, and stay on the fast path
    assert PARSER._many([{"a": 0.0, "b-c": 1}, {"a": 1.0, "b-c": 0}]) is not None


def test_single_record_follows_fastapi_body_rules() -> None:
    assert PARSER.one(json.dumps(GOOD).encode()).keys() == [None]
    assert errors_of(PARSER.one, b"") == ["field 'body': required, got nothing"]
    assert errors_of(PARSER.one, b"{")[0].startswith("field '1': json decode")
    assert "dictionary or object" in errors_of(PARSER.one, b"[1, 2]")[0]


@pytest.mark.parametrize(
    ("record", "field", "got"),
    [
        ({"a": "0.25", "b-c": 1}, "a", "'0.25'"),  # pydantic's lax mode took numeric strings
        ({"a": 1, "b-c": True}, "b-c", "true"),  # ... and booleans as 0/1
        ({"a": 1e39, "b-c": 1}, "a", "1e+39"),  # beyond float32: the model raised, a 500
        ({"a": 1, "b-c": None}, "b-c", "null"),
    ],
)
def test_single_record_wrong_number_is_named(record: dict[str, Any], field: str, got: str) -> None:
    [line] = errors_of(PARSER.one, json.dumps(record).encode())
    assert line.startswith(f"field {field!r}: ") and line.endswith(f", got {got}"), line


# Numbers on both sides of the float32 bound, and the values numpy turns into 0 and 1.
edges = st.sampled_from(
    [FLOAT32_MAX, -FLOAT32_MAX, ABOVE_FLOAT32, 1e39, -1e39, 10**39, 2**128, 0, 1, 0.0, 1.0, -0.0]
)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    edges,
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
good_features = {
    "a": st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0, 0, 1, FLOAT32_MAX])),
    "b-c": st.one_of(st.integers(-100, 100), st.sampled_from([1e300, -FLOAT64_MAX])),
}
symbols = st.sampled_from(["AAPL", "MSFT", None])
mostly_valid = st.fixed_dictionaries(good_features, optional={"symbol": symbols, "ts": stamps})
valid = st.fixed_dictionaries(
    good_features,
    optional={"symbol": symbols, "ts": st.sampled_from([None, "2026-01-05T10:00:00Z"])},
)
# a valid record with one feature swapped for a boolean, a numeric string or an overflow
near_valid = st.builds(
    lambda record, key, bad: {**record, key: bad},
    mostly_valid,
    st.sampled_from(FEATURES),
    st.sampled_from([True, False, "2.5", ABOVE_FLOAT32, -1e39, 10**39]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(mostly_valid, near_valid, records), min_size=1, max_size=6))
def test_batch_answers_exactly_as_pydantic_alone(items: list[dict[str, Any]]) -> None:
    body = json.dumps({"records": items}).encode()
    same(answer(PARSER.many, body), reference_many(body))


@settings(max_examples=400, deadline=None)
@given(st.one_of(mostly_valid, near_valid, records))
def test_single_record_answers_exactly_as_fastapi_did(item: dict[str, Any]) -> None:
    body = json.dumps(item).encode()
    same(answer(PARSER.one, body), reference_one(body))


@settings(max_examples=200, deadline=None)
@given(st.lists(valid, min_size=1, max_size=6))
def test_valid_requests_take_the_fast_path(items: list[dict[str, Any]]) -> None:
    """The equality above is no proof if the fast path never answers: valid records,
    including zeros, ones and numbers at the bound, are its own."""
    assert PARSER._many(items) is not None
    assert PARSER._one(items[0]) is not None
