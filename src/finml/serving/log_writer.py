"""The serving side of the inference log: requests hand over rows, a writer process commits.

:meth:`InferenceLogWriter.log` encodes a request's :class:`~finml.serving.inference_log.LogBatch`
into a frame (~3 µs for one record) and queues it under a lock; nothing else happens on the
request path. A sender thread writes the queued frames to the writer process
(:mod:`finml.serving.log_process`) every ``SEND_SECONDS``, and an acknowledgement reader
forgets a frame only once the process reports it committed to Delta.

Back-pressure and failures:

* **Bounded memory.** Frames not yet acknowledged (sent or not) count against
  ``max_queue`` rows. A batch that would exceed it is dropped whole, counted
  (``finml_inference_log_dropped_total``) and warned about; requests never wait for the log.
* **A slow writer** only fills the pipe: the sender thread blocks in ``write`` (without the
  GIL), frames accumulate up to ``max_queue``.
* **A dead writer** is restarted (back-off 1 s doubling to 30 s) and sent every frame not
  acknowledged; frames it had committed but not acknowledged are skipped by their Delta
  transaction, so each row is written once. Restarts are counted
  (``finml_inference_log_writer_restarts_total``).
* **Shutdown** (:meth:`close`): the remaining frames are sent, the process's stdin is
  closed, and it commits everything and exits. Whatever is still unacknowledged then (the
  process died or failed) is committed by this process itself, with the same transactions.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from finml.log import get_logger
from finml.serving import log_wire
from finml.serving.log_process import LogCommitter, WriterSpec

if TYPE_CHECKING:
    from finml.runtime.delta import Table
    from finml.serving.inference_log import LogBatch
    from finml.serving.settings import InferenceLogSettings

log = get_logger("serving.log_writer")
SEND_SECONDS = 0.05  # how often queued frames go to the writer process
START_SECONDS = 60.0  # how long start() waits for the first writer process to be ready
CLOSE_SECONDS = 60.0  # how long close() waits for the writer process to commit and exit
WARN_SECONDS = 10.0  # at most one "rows dropped" warning per interval


class Frame(NamedTuple):
    seq: int
    rows: int
    payload: bytes


class _Child:
    """One writer process and the thread reading its acknowledgements."""

    def __init__(self, spec: WriterSpec, on_line: Callable[[bytes], None], started: float) -> None:
        self.proc = subprocess.Popen(
            spec.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        self.started, self.ready = started, threading.Event()
        self.reader = threading.Thread(
            target=self._read, args=(on_line,), name="finml-inference-log-acks", daemon=True
        )
        self.reader.start()

    def _read(self, on_line: Callable[[bytes], None]) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # blocks without the GIL
            if line.startswith(log_wire.READY):
                self.ready.set()
            on_line(line)
        self.ready.set()  # exited: nobody waits for a ready that cannot come

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, data: bytes) -> bool:
        """Write ``data`` to the process; False if it is gone (the frames stay queued)."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def finish(self, timeout: float) -> int | None:
        """Close its input, wait for it to commit and exit (kill it after ``timeout``);
        returns its exit code."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("inference_log_writer_hung", pid=self.proc.pid, seconds=timeout)
            self.proc.kill()
            self.proc.wait()
        self.reader.join()
        return self.proc.returncode


class InferenceLogWriter:
    """Queues the rows of every request and has a writer process append them to ``table``.

    ``rows_written`` counts acknowledged rows (in Delta), ``pending`` rows queued or in
    flight, ``rows_dropped`` rows refused because ``max_queue`` was reached.
    """

    def __init__(self, table: Table, settings: InferenceLogSettings) -> None:
        self.table, self.settings = table, settings
        self.app_id = f"finml-serve-{uuid.uuid4().hex}"
        self.rows_written = self.rows_dropped = self.flush_errors = self.restarts = 0
        self._seq = self._pending = 0
        self._unsent: deque[Frame] = deque()
        self._unacked: deque[Frame] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._child: _Child | None = None
        self._backoff, self._next_start, self._warned_at = 0.0, 0.0, -WARN_SECONDS
        self._thread = threading.Thread(target=self._run, name="finml-inference-log", daemon=True)

    @property
    def pending(self) -> int:
        """Rows queued or sent, not yet acknowledged as committed."""
        return self._pending

    @property
    def alive(self) -> bool:
        """The sender thread runs (a writer process being restarted still counts)."""
        return self._thread.is_alive()

    @property
    def writer_pid(self) -> int | None:
        """The process id of the current writer process, once it runs and is ready."""
        child = self._child
        ready = child is not None and child.alive and child.ready.is_set()
        return child.proc.pid if ready else None  # type: ignore[union-attr]

    def start(self) -> None:
        """Start the writer process (waiting until it is ready) and the sender thread."""
        self._spawn()
        if self._child is not None and not self._child.ready.wait(START_SECONDS):
            log.error("inference_log_writer_not_ready", seconds=START_SECONDS)
        self._thread.start()

    def log(self, batch: LogBatch) -> None:
        """Queue ``batch``; if ``max_queue`` rows are already waiting it is dropped and
        counted rather than blocking the request."""
        payload, rows = log_wire.encode(batch), len(batch)
        with self._lock:
            if self._pending + rows > self.settings.max_queue:
                self._drop(rows)
                return
            self._seq += 1
            self._unsent.append(Frame(self._seq, rows, payload))
            self._pending += rows

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Send everything, let the writer process commit it and exit, then commit here
        whatever it left unacknowledged."""
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        else:
            self._finish(timeout)
        log.info("inference_log_closed", written=self.rows_written, dropped=self.rows_dropped)

    # ---- sender thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(SEND_SECONDS)
            self._wake.clear()
            self._supervise()
            self._send()
        self._finish(CLOSE_SECONDS)

    def _send(self) -> None:
        child = self._child
        if child is None:
            return
        with self._lock:
            frames = list(self._unsent)
            self._unsent.clear()
            self._unacked.extend(frames)
        if frames:
            parts: list[bytes] = []
            for f in frames:
                parts += (log_wire.frame(f.seq, f.payload), f.payload)
            # A failed write leaves the frames unacknowledged: resent after the restart.
            child.send(b"".join(parts))

    def _supervise(self) -> None:
        """Restart a writer process that died (after back-off), resending what it did not
        acknowledge."""
        child = self._child
        if child is not None and child.alive:
            return
        if time.monotonic() < self._next_start:
            return
        if child is not None:
            child.finish(CLOSE_SECONDS)
            self.restarts += 1
            lived = time.monotonic() - child.started
            self._backoff = 0.0 if lived > 30 else min(30.0, self._backoff * 2 or 1.0)
            log.warning("inference_log_writer_died", code=child.proc.returncode, lived_s=lived)
            self._requeue()
        self._spawn()

    def _spawn(self) -> None:
        try:
            self._child = _Child(self._spec(), self._on_line, time.monotonic())
        except OSError as exc:
            self._child = None
            self._backoff = min(30.0, self._backoff * 2 or 1.0)
            log.error("inference_log_writer_not_started", error=str(exc))
        self._next_start = time.monotonic() + self._backoff

    def _spec(self) -> WriterSpec:
        s = self.settings
        return WriterSpec(
            str(self.table.name), self.table.location, self.app_id,
            s.flush_rows, s.flush_seconds, s.log_inputs,
        )  # fmt: skip

    def _requeue(self) -> None:
        """Every unacknowledged frame goes back before the unsent ones, in order."""
        with self._lock:
            self._unsent.extendleft(reversed(self._unacked))
            self._unacked.clear()

    def _on_line(self, line: bytes) -> None:
        kind, _, value = line.strip().partition(b" ")
        if kind == log_wire.ACK:
            self._acknowledge(int(value))
        elif kind == log_wire.ERROR:
            self.flush_errors += 1

    def _acknowledge(self, seq: int) -> None:
        with self._lock:
            rows = 0
            while self._unacked and self._unacked[0].seq <= seq:
                rows += self._unacked.popleft().rows
            self._pending -= rows
            self.rows_written += rows

    def _drop(self, rows: int) -> None:
        """Count ``rows`` dropped (the lock is held) and warn now and then."""
        self.rows_dropped += rows
        now = time.monotonic()
        if now - self._warned_at >= WARN_SECONDS:
            self._warned_at = now
            log.warning(
                "inference_log_rows_dropped",
                dropped=self.rows_dropped,
                pending=self._pending,
                max_queue=self.settings.max_queue,
            )

    # ---- shutdown -----------------------------------------------------------------------
    def _finish(self, timeout: float) -> None:
        self._send()
        if self._child is not None:
            code = self._child.finish(timeout)
            if code:
                log.error("inference_log_writer_failed", code=code)
        self._requeue()
        self._commit_here()

    def _commit_here(self) -> None:
        """Commit in this process what no writer process acknowledged (never started, died
        or failed), skipping frames its transactions show as committed."""
        with self._lock:
            frames = list(self._unsent)
        if not frames:
            return
        batches = [(f.seq, log_wire.decode(f.payload)) for f in frames]
        rows = sum(f.rows for f in frames)
        for attempt in range(3):
            try:
                LogCommitter(self.table, self.app_id, self.settings.log_inputs).commit(batches)
            except Exception as exc:
                self.flush_errors += 1
                log.error("inference_log_flush_failed", rows=rows, error=str(exc))
                time.sleep(0.5 * (attempt + 1))
                continue
            with self._lock:
                self._unsent.clear()
                self._pending -= rows
                self.rows_written += rows
            return
        with self._lock:
            self._unsent.clear()
            self._pending -= rows
            self._drop(rows)
        log.error("inference_log_rows_lost", rows=rows)
