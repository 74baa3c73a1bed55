"""Delta file statistics from Parquet footers never break a commit, whatever the strings."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.runtime.delta.files import footer_stats


def raw_strings(values: list[bytes]) -> pa.Array:
    """A string array holding exactly these bytes (valid UTF-8 or not), as a writer that
    does not validate (Spark's text source, say) would leave them."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(values))],
    )


def test_a_string_column_that_is_not_utf8_gets_no_bounds_but_the_rest_do(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"s": raw_strings([b"\xffa", b"ok"]), "n": [3, 9]}), path)
    stats = footer_stats(path, set())
    assert stats["numRecords"] == 2
    assert stats["nullCount"] == {"s": 0, "n": 0}
    assert "s" not in stats["minValues"] and "s" not in stats["maxValues"]
    assert (stats["minValues"]["n"], stats["maxValues"]["n"]) == (3, 9)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_any_bytes_in_a_string_column_never_raise(tmp_path_factory, values: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.parquet"
    pq.write_table(pa.table({"s": raw_strings(values)}), path)
    stats = footer_stats(path, set())
    assert stats["numRecords"] == len(values)
    decodable = all(_utf8(v) for v in values)
    short = all(len(v.decode("utf-8", "replace")) <= 32 for v in values)
    if decodable and short:  # exact bounds where they are safe
        texts = [v.decode() for v in values]
        assert (stats["minValues"]["s"], stats["maxValues"]["s"]) == (min(texts), max(texts))
    if "s" in stats["minValues"]:  # any bounds given hold every value (compared as bytes)
        low, high = stats["minValues"]["s"].encode(), stats["maxValues"]["s"].encode()
        assert all(low <= value <= high for value in values)


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
