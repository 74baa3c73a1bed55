"""Run locks across real processes: fail fast naming the holder, wait, survive SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from finml.errors import RunLocked
from finml.runtime.locks import run_lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from finml.runtime.locks import run_lock
    with run_lock(Path(sys.argv[1]), "medallion.x.y"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold(home: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_held_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = hold(tmp_path, 30)
    try:
        clock = time.monotonic()
        with pytest.raises(RunLocked) as caught, run_lock(tmp_path, "medallion.x.y"):
            pass
        assert time.monotonic() - clock < 1
        message = str(caught.value)
        assert f"pid {holder.pid}" in message and "started 20" in message
        assert "--wait" in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_waiting_gets_the_lock_when_the_holder_ends(tmp_path: Path) -> None:
    holder = hold(tmp_path, 1.0)
    clock = time.monotonic()
    with run_lock(tmp_path, "medallion.x.y", wait_seconds=30):
        waited = time.monotonic() - clock
    holder.wait()
    assert 0.3 < waited < 20


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = hold(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_lock(tmp_path, "medallion.x.y"):  # the kernel released it
        pass


def test_the_lock_is_reentrant_in_one_process_and_per_name(tmp_path: Path) -> None:
    with run_lock(tmp_path, "a"), run_lock(tmp_path, "a", wait_seconds=0), run_lock(tmp_path, "b"):
        pass
    with run_lock(tmp_path, "a"):  # released after the outer block
        pass
