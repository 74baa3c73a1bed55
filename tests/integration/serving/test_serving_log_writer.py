"""The inference-log writer process, for real: killed, signalled, orphaned — every row the
server handed over reaches Delta exactly once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables, Table
from finml.serving.inference_log import LogBatch
from finml.serving.log_writer import InferenceLogWriter
from finml.serving.records import Records
from finml.serving.settings import InferenceLogSettings

pytestmark = pytest.mark.integration


def batch(request_id: str, n: int = 1) -> LogBatch:
    records = Records.of([(float(i), 1.5) for i in range(n)], ["AAPL"] * n)
    return LogBatch(
        request_id,
        datetime.now(UTC),
        "m",
        1,
        "champion",
        ("a", "b"),
        records,
        [0.5] * n,
        [1] * n,
        1.0,
    )


def table(tmp_path: Path) -> Table:
    return DeltaTables.from_config(ProjectConfig(home=tmp_path), None).table("inference_log")


def until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_killed_writer_process_is_replaced_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    target = table(tmp_path)
    writer = InferenceLogWriter(target, InferenceLogSettings(flush_rows=50, flush_seconds=0.2))
    writer.start()
    logged: list[str] = []

    def send(count: int) -> None:
        for _ in range(count):
            logged.append(f"r{len(logged)}")
            writer.log(batch(logged[-1], n=1 + len(logged) % 3))
            time.sleep(0.001)

    send(300)
    until(lambda: writer.rows_written > 0, "a first commit")
    first = writer.writer_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)  # mid-stream: some frames sent, not acknowledged
    send(300)
    until(lambda: writer.writer_pid not in (None, first), "a new writer process")
    second = writer.writer_pid
    assert second is not None
    for stop in (signal.SIGTERM, signal.SIGINT):  # as Ctrl-C or a group kill would send
        os.kill(second, stop)
    send(300)
    assert writer.writer_pid == second  # ignored: it stops only when its input closes
    writer.close()
    rows = target.to_arrow().column("request_id").to_pylist()
    expected = sorted(r for i, r in enumerate(logged) for _ in range(1 + (i + 1) % 3))
    assert sorted(rows) == expected  # every row once: none lost, none written twice
    assert writer.restarts == 1 and writer.pending == 0 and writer.rows_dropped == 0
    assert writer.rows_written == len(expected)


def test_rows_wait_for_a_writer_that_keeps_dying_and_are_committed_on_close(tmp_path: Path) -> None:
    """With no writer process alive at the end, the server commits the rest itself."""
    target = table(tmp_path)
    writer = InferenceLogWriter(target, InferenceLogSettings(flush_rows=10_000, flush_seconds=600))
    writer.start()
    for i in range(20):
        writer.log(batch(f"r{i}", n=2))
    until(lambda: writer.pending == 40, "queued rows")
    pid = writer.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # it had received the frames but committed none
    writer.close()
    assert sorted(target.to_arrow().column("request_id").to_pylist()) == sorted(
        f"r{i}" for i in range(20) for _ in range(2)
    )
    assert writer.rows_written == 40 and writer.pending == 0


def test_a_stalled_writer_never_blocks_requests_and_drops_are_counted(tmp_path: Path) -> None:
    """The writer process is stopped (SIGSTOP) while 300 KB of rows arrive: its pipe fills,
    ``log`` still returns at once, rows beyond ``max_queue`` are dropped and counted, and
    everything accepted is committed once it runs again."""
    target = table(tmp_path)
    settings = InferenceLogSettings(flush_rows=100_000, flush_seconds=600, max_queue=5_000)
    writer = InferenceLogWriter(target, settings)
    writer.start()
    pid = writer.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        sender = threading.Thread(
            target=lambda: [writer.log(batch(f"r{i}", n=50)) for i in range(150)]
        )
        sender.start()
        sender.join(30)
        assert not sender.is_alive()  # no request waits for the log
        until(lambda: writer.pending == 5_000, "the queue to be full")
        assert writer.rows_dropped == 50 * 50  # the last 50 batches: over max_queue
    finally:
        os.kill(pid, signal.SIGCONT)
    writer.close()
    ids = target.to_arrow().column("request_id").to_pylist()
    assert sorted(ids) == sorted(f"r{i}" for i in range(100) for _ in range(50))
    assert writer.rows_written == 5_000 and writer.pending == 0
