"""The writer process's commits on a real delta-rs table: exactly once across writers of the
same server, and everything received committed when its input closes."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables, Table
from finml.serving import log_wire
from finml.serving.inference_log import LogBatch
from finml.serving.log_process import LogCommitter, WriterSpec, run
from finml.serving.records import Records

APP = "finml-serve-test"


def batch(request_id: str, n: int = 1) -> LogBatch:
    records = Records.of(
        [(float(i), 2.0) for i in range(n)], trade_ids=[f"{request_id}-{i}" for i in range(n)]
    )
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


def request_ids(target: Table) -> list[str]:
    return sorted(target.to_arrow().column("request_id").to_pylist())


def test_frames_committed_by_a_dead_writer_are_not_written_again(tmp_path: Path) -> None:
    """A writer commits frames 1-3 and dies before acknowledging; the server resends 1-6
    to its successor, which writes 4-6 only."""
    target = table(tmp_path)
    frames = [(seq, batch(f"r{seq}", n=seq)) for seq in range(1, 7)]
    assert LogCommitter(target, APP, True).commit(frames[:3]) == 3
    successor = LogCommitter(target, APP, True)
    assert successor.committed == 3
    assert successor.commit(frames) == 6
    assert request_ids(target) == sorted(f"r{seq}" for seq in range(1, 7) for _ in range(seq))
    assert successor.commit(frames) == 6 and target.count() == 21  # again: nothing added


def test_another_server_app_id_is_not_skipped(tmp_path: Path) -> None:
    target = table(tmp_path)
    LogCommitter(target, APP, True).commit([(1, batch("a")), (2, batch("b"))])
    LogCommitter(target, "finml-serve-other", True).commit([(1, batch("c"))])
    assert request_ids(target) == ["a", "b", "c"]


def test_run_commits_by_rows_and_everything_when_input_closes(tmp_path: Path) -> None:
    target = table(tmp_path)
    spec = WriterSpec(
        str(target.name), target.location, APP, flush_rows=4, flush_seconds=600, log_inputs=False
    )
    source, sink = os.pipe()
    acks_read, acks_write = os.pipe()
    with os.fdopen(acks_write, "wb", buffering=0) as acks:
        worker = threading.Thread(target=lambda: results.append(run(spec, source, acks)))
        results: list[int] = []
        worker.start()
        with os.fdopen(acks_read, "rb") as lines:
            assert lines.readline() == b"ready\n"
            payloads = [log_wire.encode(batch(f"r{seq}", n=2)) for seq in range(1, 4)]
            stream = b"".join(log_wire.frame(seq, p) + p for seq, p in enumerate(payloads, 1))
            os.write(sink, stream[:-5])  # frames 1 and 2 complete: 4 rows, a commit is due
            assert lines.readline() == b"ack 2\n"
            os.write(sink, stream[-5:])
            os.close(sink)  # the server is done: frame 3 is committed below flush_rows
            assert lines.readline() == b"ack 3\n"
            worker.join(30)
    assert results == [0] and request_ids(target) == ["r1", "r1", "r2", "r2", "r3", "r3"]
    assert target.to_arrow().column("inputs").null_count == 6  # log_inputs: false
