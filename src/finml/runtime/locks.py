"""Run locks: one writer of a table set per home at a time.

A scheduled run overlapping a manual one is the common way two writers meet. The first
takes the lock; the second fails at once with one line naming the holder (pid, command,
start time), or waits up to ``wait_seconds`` for it. The lock is an ``flock`` on a file in
the home, so the kernel releases it when its holder exits however it exits (even
SIGKILL): a lock is never left stale. It is a courtesy for clear errors: the Delta commits
underneath are safe without it (see :mod:`finml.runtime.delta.conflicts`).

Re-entrant within a process (a CLI command may take it before starting Spark, and the
job function it calls takes it again). Local homes only: Databricks jobs get the same
guarantee from ``max_concurrent_runs: 1``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from finml.errors import RunLocked
from finml.log import get_logger

log = get_logger("runtime.locks")

_POLL_SECONDS = 0.25
_held: dict[Path, int] = {}  # lock file -> nesting depth in this process


@contextlib.contextmanager
def run_lock(home: Path, name: str, *, wait_seconds: float = 0.0) -> Iterator[Path]:
    """Hold the lock ``name`` of ``home`` for the duration of the block.

    Raises:
        RunLocked: another process holds it (and did not release it within
            ``wait_seconds``); the message names the holder.
    """
    folder = Path(home).resolve() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    if _held.get(path):
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, name, wait_seconds)
        _write_holder(fd)
        _held[path] = 1
        log.debug("run_lock_acquired", lock=name, path=str(path))
        try:
            yield path
        finally:
            _held.pop(path, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, name: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + max(0.0, wait_seconds)
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise RunLocked(_held_message(path, name, wait_seconds)) from None
            if not waited:
                log.info("run_lock_waiting", lock=name, holder=_holder_text(path))
                waited = True
            time.sleep(_POLL_SECONDS)


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)


def _holder_text(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another process (still starting)"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} "
        f"(`{holder.get('command')}`, started {holder.get('started_at')})"
    )


def _held_message(path: Path, name: str, wait_seconds: float) -> str:
    waited = f" after waiting {wait_seconds:g} s" if wait_seconds > 0 else ""
    return (
        f"run lock {name!r}: expected it free, found it held{waited} by {_holder_text(path)}; "
        f"retry when that run ends or pass --wait SECONDS (lock file {path})"
    )
