"""The ``decisions`` writer of ``POST /decide``: rows buffered and appended by a writer
thread every ``flush_rows`` rows or ``flush_seconds`` seconds and on shutdown, nothing lost
when a flush fails; the same thread announces the latency SLA's breaches, off the request
path."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.log import get_logger
from finml.serving.decisions.records import DECISIONS, TABLE

if TYPE_CHECKING:
    from collections.abc import Callable

    from finml.runtime.delta import DeltaTables
    from finml.serving.sla import Breach

log = get_logger("serving.decide")


@dataclass
class DecisionLog:
    """Buffered appends to ``decisions``: a writer thread flushes every ``flush_rows`` rows
    or ``flush_seconds``; :meth:`close` flushes what is left."""

    tables: DeltaTables
    flush_rows: int = 500
    flush_seconds: float = 2.0
    rows_written: int = 0
    alert: Callable[[Breach], None] | None = None  # how an SLA breach is announced
    _breaches: list[Breach] = field(default_factory=list)
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def add(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= self.flush_rows
        if full:
            self._wake.set()

    def breached(self, breaches: list[Breach]) -> None:
        """Queue SLA breaches; the writer thread announces them (off the request path)."""
        with self._lock:
            self._breaches += breaches
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        self.announce()

    def announce(self) -> None:
        """Announce the queued breaches (logged always; alerted when ``alert`` is set)."""
        with self._lock:
            breaches, self._breaches = self._breaches, []
        for breach in breaches:
            fields = {k: str(v) if isinstance(v, datetime) else v
                      for k, v in breach.__dict__.items()}  # fmt: skip
            log.warning("decide_sla_breach", **fields)
            if self.alert is not None:
                self.alert(breach)

    def flush(self) -> None:
        """Append the buffered rows; on failure they go back to the front of the buffer."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            self.tables.table(TABLE).append(
                pa.Table.from_pylist(rows, DECISIONS), schema_evolution=True
            )
        except Exception:
            with self._lock:
                self._rows[:0] = rows
            raise
        self.rows_written += len(rows)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
                self.announce()
            except Exception as exc:  # keep serving; the rows stay for the next try
                log.error("decision_log_flush_failed", error=str(exc))
