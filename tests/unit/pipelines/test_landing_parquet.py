"""Decoding landing Parquet files: any bytes give rows or one unreadable-file row, never an
exception (a fuzz over thousands of mutated and random files)."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.pipelines.landing_parquet import BRONZE_ARROW_SCHEMA, decode_file

T = 1704724200000


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


GOOD = parquet_bytes(
    pa.table(
        {
            "s": ["AAPL", "MSFT", None],
            "p": [1.5, float("nan"), 3.0],
            "v": [1, 2, 3],
            "t": [T, T + 1, T + 2],
            "c": [["1"], [], None],
        }
    )
)


def check(batch: pa.RecordBatch, path: str) -> None:
    assert batch.schema == BRONZE_ARROW_SCHEMA
    assert set(batch.column("_source_file").to_pylist()) <= {path}
    errors = batch.column("_parse_error").to_pylist()
    if any(errors):  # unreadable: exactly one row saying why
        assert batch.num_rows == 1 and errors[0].startswith("unreadable_file: ")
    batch.validate(full=True)  # every string valid UTF-8


def test_a_good_file_decodes_every_row_as_text() -> None:
    batch = decode_file("f", GOOD)
    check(batch, "f")
    assert batch.column("s").to_pylist() == ["AAPL", "MSFT", None]
    assert batch.column("p").to_pylist() == ["1.5", "nan", "3"]
    assert batch.column("t").to_pylist() == [str(T), str(T + 1), str(T + 2)]


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_are_one_unreadable_row(data: bytes) -> None:
    batch = decode_file("r", data)
    check(batch, "r")
    assert batch.num_rows == 1


@settings(max_examples=1500, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(0, 2**32 - 1))
def test_truncated_and_corrupted_files_never_raise(cut: int, seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(GOOD[:cut] if rng.random() < 0.5 else GOOD)
    for _ in range(rng.randint(0, 4)):  # flip a few bytes anywhere (footer included)
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    check(decode_file("m", bytes(data)), "m")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            pa.array(["12.5", "abc", ""]),
            pa.array([True, False, None]),
            pa.array([1, 2, 3], pa.int8()),
            pa.array([[1.0], [2.0], []]),
            pa.array([{"a": 1}, {"a": 2}, None]),
            pa.array([b"x", b"y", b"z"]),
            pa.array([1.5, 2.5, None], pa.float32()),
        ]
    ),
    st.sampled_from(["s", "p", "v", "t", "c", "extra"]),
)
def test_any_column_type_in_any_place_decodes_or_is_unreadable(column: pa.Array, name: str) -> None:
    base = {"s": ["A", "B", "C"], "p": [1.0, 2.0, 3.0], "v": [1, 1, 1], "t": [T, T, T]}
    base[name] = column
    check(decode_file("x", parquet_bytes(pa.table(base))), "x")
