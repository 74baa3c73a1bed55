"""The buffered inference-log writer on a real delta-rs table (no Spark)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables
from finml.serving.inference_log import (
    INFERENCE_LOG_SCHEMA,
    LogBatch,
    inputs_json,
    inputs_payloads,
    to_arrow,
)
from finml.serving.log_writer import InferenceLogWriter
from finml.serving.records import Records
from finml.serving.settings import InferenceLogSettings


def batch(n: int, ts: datetime | None = None) -> LogBatch:
    records = Records.of(
        [(2.0, float(i)) for i in range(n)], ["AAPL"] * n, [ts] * n, [f"t{i}" for i in range(n)]
    )
    return LogBatch(
        "r1", datetime.now(UTC), "m", 3, "champion", ("b", "a"), records, [0.5] * n, [1] * n, 2.0
    )


def table(tmp_path):
    return DeltaTables.from_config(ProjectConfig(home=tmp_path), None).table("inference_log")


def test_arrow_rows_follow_the_contract() -> None:
    got = to_arrow([batch(1, datetime(2026, 1, 2, 15, 0))], log_inputs=False)
    assert got.schema == INFERENCE_LOG_SCHEMA
    row = got.to_pylist()[0]
    assert row["model_version"] == "3" and row["inputs"] is None and row["trade_id"] == "t0"
    assert row["ts"].tzinfo is not None and row["ts"].hour == 15  # naive event time = UTC
    assert to_arrow([batch(2)]).column("inputs")[1].as_py() == '{"a":1.0,"b":2.0}'


def test_flushes_by_rows_then_drains_on_close(tmp_path) -> None:
    target = table(tmp_path)
    writer = InferenceLogWriter(target, InferenceLogSettings(flush_rows=10, flush_seconds=600))
    writer.start()
    writer.log(batch(10))  # reaches flush_rows: written without waiting for the interval
    deadline = time.monotonic() + 20
    while writer.rows_written < 10:
        assert time.monotonic() < deadline, "row-count flush never happened"
        time.sleep(0.05)
    writer.log(batch(3))  # below both thresholds: only close() saves these
    writer.close()
    assert target.count() == 13 and writer.pending == 0 and writer.rows_dropped == 0


def test_full_buffer_drops_and_counts(tmp_path) -> None:
    target = table(tmp_path)
    writer = InferenceLogWriter(target, InferenceLogSettings(flush_rows=100, max_queue=5))
    writer.log(batch(4))
    writer.log(batch(3))  # would exceed max_queue: dropped whole, counted
    assert (writer.pending, writer.rows_dropped) == (4, 3)
    writer.close()  # never started: close still flushes
    assert target.count() == 4


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True),
    st.integers(min_value=0, max_value=40),
    st.data(),
)
def test_payloads_are_the_canonical_json_of_each_record(names: list[str], rows: int, data) -> None:
    finite = st.floats(allow_nan=False, allow_infinity=False)
    cells = data.draw(st.lists(finite, min_size=rows * len(names), max_size=rows * len(names)))
    values = np.array(cells, dtype=np.float64).reshape(rows, len(names))
    assert inputs_payloads(tuple(names), values) == [
        inputs_json(tuple(names), row) for row in values.tolist()
    ]


def test_payloads_match_json_on_every_magnitude_and_bit_pattern() -> None:
    rng = np.random.default_rng(0)
    scaled = rng.normal(size=(20_000, 4)) * 10.0 ** rng.integers(-8, 20, size=(20_000, 4))
    bits = rng.integers(0, 2**63, size=(20_000, 4), dtype=np.uint64).view(np.float64)
    bits[~np.isfinite(bits)] = 0.5
    names = ("return_z", "volume_z", "spread_bps", "gap_z")
    for values in (scaled, bits, np.round(scaled, 3), -scaled):
        assert inputs_payloads(names, values) == [inputs_json(names, r) for r in values.tolist()]
