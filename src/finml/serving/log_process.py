"""The inference-log writer process: frames in on stdin, Delta appends out, acks on stdout.

``finml serve`` starts it (``python -m finml.serving.log_process '<settings JSON>'``) so
that building Arrow tables and appending them to Delta never holds the serving process's
GIL or a share of its core: done in the server, a flush of ~1,000 rows held the GIL for
40-70 ms, long enough to stall every request that arrived meanwhile (the p99).

It runs niced, in a session of its own, and ignores SIGINT and SIGTERM: it stops when its
stdin closes (the server's shutdown, or the server's death), after committing every row it
has. Each commit carries the Delta transaction ``(app_id, last sequence number)``, so frames
that a killed predecessor had committed but not acknowledged are skipped when the server
sends them again: every row is written exactly once (:class:`LogCommitter`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO

from finml.log import get_logger
from finml.runtime.delta.base import Txn
from finml.serving import log_wire
from finml.serving.inference_log import INFERENCE_LOG_SCHEMA, LogBatch, to_arrow
from finml.serving.records import Records

if TYPE_CHECKING:
    from finml.runtime.delta import Table

log = get_logger("serving.log_process")
MODULE = "finml.serving.log_process"
READ_BYTES = 1 << 20
FINAL_TRIES = 3  # commits tried after stdin closed before giving up (the server then writes)
_SAMPLE = LogBatch(
    "warm-up", datetime(2026, 1, 1, tzinfo=UTC), "m", 1, "champion", ("x",),
    Records.of([(1.0,)], ["S"], [datetime(2026, 1, 1)], ["t"]), [0.5], [1], 1.0,
)  # fmt: skip


@dataclass(frozen=True)
class WriterSpec:
    """What the writer process needs: the table, the transaction id, the flush policy."""

    table_name: str
    location: str
    app_id: str
    flush_rows: int
    flush_seconds: float
    log_inputs: bool
    nice: int = 10

    def argv(self) -> list[str]:
        """The command line that starts the writer process with this spec."""
        return [sys.executable, "-m", MODULE, json.dumps(asdict(self))]

    def table(self) -> Table:
        """The inference-log table, on delta-rs (no Spark)."""
        from finml.names import TableName
        from finml.runtime.delta import Table, make_engine
        from finml.runtime.delta.base import TableRef

        return Table(
            make_engine("delta-rs", None), TableRef(TableName.parse(self.table_name), self.location)
        )


class LogCommitter:
    """Appends batches in sequence order, each commit marked ``Txn(app_id, last seq)``.

    Sequence numbers at or below the table's committed transaction version for ``app_id``
    are skipped, so the same frames sent again (after a writer died between its commit and
    its acknowledgement) are not written twice.
    """

    def __init__(self, table: Table, app_id: str, log_inputs: bool) -> None:
        self.table, self.app_id, self.log_inputs = table, app_id, log_inputs
        committed = table.txn_version(app_id) if table.exists() else None
        self.committed = -1 if committed is None else committed

    def commit(self, frames: list[tuple[int, LogBatch]]) -> int:
        """Append the frames not yet committed; returns the last sequence number covered.

        Raises:
            Exception: whatever the Delta append raised; nothing was committed.
        """
        fresh = [batch for seq, batch in frames if seq > self.committed]
        last = max(self.committed, frames[-1][0]) if frames else self.committed
        if fresh:
            self.table.append(to_arrow(fresh, self.log_inputs), txn=Txn(self.app_id, last))
        self.committed = last
        return last


class _Pending:
    """Frames received, not yet committed, and when the oldest arrived."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, LogBatch]] = []
        self.rows = 0
        self.since = 0.0

    def add(self, seq: int, batch: LogBatch) -> None:
        if not self.frames:
            self.since = time.monotonic()
        self.frames.append((seq, batch))
        self.rows += len(batch)

    def clear(self) -> None:
        self.frames, self.rows = [], 0


def run(spec: WriterSpec, source: int, acks: BinaryIO) -> int:
    """Read frames from file descriptor ``source`` until it closes, commit them every
    ``flush_rows`` rows or ``flush_seconds`` seconds, acknowledge each commit on ``acks``.

    Returns 0 once everything received is committed, 1 if the final commits kept failing.
    """
    table = spec.table()
    _warm_up(table)
    committer = LogCommitter(table, spec.app_id, spec.log_inputs)
    _say(acks, log_wire.READY + b"\n")
    reader, pending = log_wire.FrameReader(), _Pending()
    closed, failures, retry_at = False, 0, 0.0
    while not closed or pending.frames:
        if not closed:
            closed = _receive(source, reader, pending, _wait(spec, pending, retry_at))
        else:
            time.sleep(max(0.0, retry_at - time.monotonic()))
        now = time.monotonic()
        due = closed or pending.rows >= spec.flush_rows or now - pending.since >= spec.flush_seconds
        if not (pending.frames and due and now >= retry_at):
            continue
        try:
            last = committer.commit(pending.frames)
        except Exception as exc:  # keep the rows; retry with back-off
            failures += 1
            _say(acks, log_wire.ERROR + b"\n")
            log.error("inference_log_commit_failed", rows=pending.rows, error=str(exc))
            if closed and failures >= FINAL_TRIES:
                return 1
            retry_at = now + min(30.0, 0.5 * 2 ** min(failures, 6))
            continue
        _say(acks, log_wire.ack(last))
        pending.clear()
        failures = 0
    return 0


def _say(acks: BinaryIO, line: bytes) -> None:
    """Tell the server; if it is gone, keep committing what arrived (nobody will resend)."""
    with contextlib.suppress(OSError):
        acks.write(line)


def _warm_up(table: Table) -> None:
    """Pay the first commit's one-off costs before the server takes traffic: pyarrow's lazy
    set-up (the first ``to_arrow`` takes ~0.5 s, later ones ~1 ms per 1,000 rows) and the
    table's creation. Left to the first commit, they took ~0.8 s of a core two seconds
    into serving, and the requests of that second made the p99."""
    to_arrow([_SAMPLE])
    if not table.exists():
        table.append(INFERENCE_LOG_SCHEMA.empty_table())  # an empty first version


def _wait(spec: WriterSpec, pending: _Pending, retry_at: float) -> float | None:
    """Seconds to wait for input: until the next commit is due, or forever with none."""
    if not pending.frames:
        return None
    due = max(pending.since + spec.flush_seconds, retry_at)
    return max(0.0, due - time.monotonic())


def _receive(
    source: int, reader: log_wire.FrameReader, pending: _Pending, wait: float | None
) -> bool:
    """Read what arrives within ``wait`` seconds into ``pending``; True once input closed."""
    ready, _, _ = select.select([source], [], [], wait)
    if not ready:
        return False
    data = os.read(source, READ_BYTES)
    if not data:
        if reader.partial:  # the server died mid-frame: that frame was never acknowledged
            log.warning("inference_log_partial_frame", bytes=reader.partial)
        return True
    for seq, payload in reader.feed(data):
        pending.add(seq, log_wire.decode(payload))
    return False


def main(argv: list[str]) -> int:
    """Entry point: ``argv[1]`` is the :class:`WriterSpec` as JSON."""
    spec = WriterSpec(**json.loads(argv[1]))
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)  # stop only when the server closes our stdin
    os.nice(spec.nice)
    if os.environ.get("XX_SCHED") == "idle":
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    acks = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the ack stream
    return run(spec, 0, acks)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
