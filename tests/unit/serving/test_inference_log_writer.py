"""The buffered inference-log writer on a real delta-rs table (no Spark)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables
from finml.serving.inference_log import (
    INFERENCE_LOG_SCHEMA,
    InferenceLogWriter,
    LogBatch,
    to_arrow,
)
from finml.serving.service import Record
from finml.serving.settings import InferenceLogSettings


def batch(n: int, ts: datetime | None = None) -> LogBatch:
    records = [Record((2.0, float(i)), "AAPL", ts, f"t{i}") for i in range(n)]
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
