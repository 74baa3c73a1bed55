"""MLflow scoring payloads -> records (no server), and optional features in the record model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from finml.serving.inputs import RequestParser
from finml.serving.invocations import ProtocolError, payload_records, predictions

COLUMNS = frozenset({"a", "b", "symbol", "ts", "trade_id"})


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataframe_split": {"columns": ["a", "b", "x"], "data": [[1, 2, 9], [3, null, 9]]}}',
        b'{"dataframe_split": {"index": [7, 8], "columns": ["a", "b"], '
        b'"data": [[1, 2], [3, NaN]]}}',
        b'{"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": null, "x": "dropped"}]}',
        b'{"inputs": [{"a": 1, "b": 2}, {"a": 3}]}',
        b'{"instances": {"a": [1, 3], "b": [2, NaN]}}',
    ],
)
def test_every_format_reads_as_the_same_records(body: bytes) -> None:
    rows = payload_records(body, COLUMNS)
    assert [r.get("a") for r in rows] == [1, 3]
    assert rows[0]["b"] == 2 and rows[1].get("b") is None  # null, NaN or absent: missing
    assert all(set(r) <= {"a", "b"} for r in rows)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"{not json", "body: expected JSON"),
        (b'{"dataframe_records": [], "inputs": []}', "expected exactly one of"),
        (b'{"inputs": [], "extra": 1}', "expected exactly one of"),
        (b'{"dataframe_split": {"data": [[1]]}}', "dataframe_split: expected {columns"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [1]}}', "a list of rows"),
        (b'{"inputs": {"a": [1], "b": [1, 2]}}', "expected columns of one length, got [1, 2]"),
        (b'{"inputs": "a"}', "inputs: expected a list of records"),
        (b'{"inputs": [{"a": 1}], "params": {"t": 1}}', "params: expected none"),
    ],
)
def test_a_payload_outside_the_protocol_names_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        payload_records(body, COLUMNS)
    assert message in str(caught.value)


def test_an_optional_feature_may_be_null_or_absent_a_required_one_not() -> None:
    from fastapi.exceptions import RequestValidationError

    parser = RequestParser(("a", "b"), max_batch=10, optional=frozenset({"b"}))
    records = parser.records([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": None}, {"a": 4.0}])
    assert records.values[0].tolist() == [1.0, 2.0]
    assert records.values[1][0] == 3.0 and math.isnan(records.values[1][1])
    assert math.isnan(records.values[2][1])
    one = parser.one(b'{"a": 5, "b": null}')
    assert np.isnan(one.values[0][1])
    with pytest.raises(RequestValidationError) as caught:
        parser.records([{"b": 1.0}])
    assert caught.value.errors()[0]["loc"] == ("records", 0, "a")
    with pytest.raises(RequestValidationError):
        RequestParser(("a", "b"), max_batch=10).one(b'{"a": 5, "b": null}')


def test_predictions_are_the_pyfunc_output_as_records() -> None:
    scored = [{"score": 0.25, "prediction": 0, "model_version": "3", "variant": "champion"}]
    assert predictions(scored) == {"predictions": [{"score": 0.25, "prediction": 0}]}
