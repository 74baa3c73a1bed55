"""Spark/JVM failures end a real ``finml`` process with one line naming the root cause.

Each case breaks something for real under a temp FINML_HOME: a committed Parquet file of a
Delta table overwritten with garbage, a file system that is really full (a small tmpfs), a
Java that cannot start. ``finml features build`` reads ``silver_trades`` through Spark and
writes ``gold_trade_features`` through Spark, so it meets both the corrupt file and the full
disk. The table is written with delta-rs here, so the test process starts no JVM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

REPO = Path(__file__).resolve().parents[3]
FINML = str(Path(sys.executable).parent / "finml")
SILVER = ("finml_local", "markets", "silver_trades")
# The JVM prints this itself whenever Spark's launcher starts it; nothing else may appear.
JVM_START_LINE = "WARNING: Using incubator modules: jdk.incubator.vector"


def finml(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FINML_")}
    environ.update(
        FINML_HOME=str(home),
        FINML_CONFIG=str(REPO / "project_config.yml"),
        FINML_LOG_LEVEL="WARNING",
        **env,
    )
    return subprocess.run(
        [FINML, *args], cwd=home, env=environ, capture_output=True, text=True, timeout=300
    )


def write_silver_trades(home: Path, rows_per_day: int) -> Path:
    """A ``silver_trades`` table of two trading days (one commit, one file each)."""
    location = home.joinpath("warehouse", *SILVER)
    start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    for day in range(2):
        ts = [start + timedelta(days=day, seconds=i) for i in range(rows_per_day)]
        batch = pa.table(
            {
                "trade_id": [f"{day}-{i}" for i in range(rows_per_day)],
                "symbol": ["AAPL" if i % 2 else "MSFT" for i in range(rows_per_day)],
                "price": [100.0 + (i % 17) * 0.1 for i in range(rows_per_day)],
                "volume": [1.0 + i % 5 for i in range(rows_per_day)],
                "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                "trade_date": pa.array([t.date() for t in ts], pa.date32()),
                "session": ["regular"] * rows_per_day,
            }
        )
        write_deltalake(str(location), batch, mode="append")
    return location


def error_and_noise(stderr: str) -> tuple[str, list[str]]:
    """The one ``error:`` line of ``stderr``, and every other line."""
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0], [line for line in lines if not line.startswith("error: ")]


@pytest.fixture
def corrupt_home(tmp_path: Path) -> tuple[Path, Path]:
    """A home whose ``silver_trades`` has a committed data file overwritten with garbage."""
    location = write_silver_trades(tmp_path, rows_per_day=500)
    committed = Path(DeltaTable(str(location)).file_uris()[0].removeprefix("file://"))
    committed.write_bytes(b"not parquet\n")
    return tmp_path, committed


def test_a_corrupt_data_file_is_one_line_naming_the_table_and_the_file(
    corrupt_home: tuple[Path, Path],
) -> None:
    home, committed = corrupt_home
    result = finml(home, "features", "build")
    assert result.returncode == 1, result.stderr[-3000:]
    error, noise = error_and_noise(result.stderr)
    assert "on table finml_local.markets.silver_trades: java.lang.RuntimeException:" in error
    assert f"{committed} is not a Parquet file" in error
    assert error.endswith("(run with --verbose for the full trace)")
    assert set(noise) <= {JVM_START_LINE}, noise  # no Spark log, no Java frames, no traceback


def test_verbose_adds_the_python_and_java_trace_above_the_line(
    corrupt_home: tuple[Path, Path],
) -> None:
    home, committed = corrupt_home
    result = finml(home, "--verbose", "features", "build")
    assert result.returncode == 1, result.stderr[-3000:]
    error, noise = error_and_noise(result.stderr)
    assert f"{committed} is not a Parquet file" in error
    assert not error.endswith("(run with --verbose for the full trace)")
    # The trace, then the line; Spark's own log (WARN with --verbose) may still follow it.
    trace = result.stderr.index("Traceback (most recent call last)")
    assert trace < result.stderr.index(error)
    assert any(line.startswith("\tat org.apache.spark.") for line in noise)


def _unmount(folder: Path) -> None:
    """Unmount ``folder``; the JVM may still hold it for a moment after finml exits."""
    for _ in range(20):
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


@pytest.fixture
def full_home(tmp_path: Path) -> Iterator[Path]:
    """A home on a 4 MB tmpfs holding ``silver_trades``, then filled to the last byte."""
    home = tmp_path / "small"
    home.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        write_silver_trades(home, rows_per_day=500)
        with (home / "filler").open("wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError as exc:
                assert exc.errno == 28  # ENOSPC: the file system is full
        yield home
    finally:
        _unmount(home)


def test_a_full_disk_is_one_line_naming_no_space_and_the_table(full_home: Path) -> None:
    result = finml(full_home, "features", "build")
    assert result.returncode == 1, result.stderr[-3000:]
    error, noise = error_and_noise(result.stderr)
    assert "on table finml_local.markets.trade_features" in error
    # Whichever write meets the full disk first (the stage's own bookkeeping in Python, or
    # Delta's in the JVM), the line ends with the operating system's reason.
    reason = error.split(" (run with")[0]
    assert reason.endswith("java.io.IOException: No space left on device") or (
        "No space left on device writing /" in reason
    ), error
    assert set(noise) <= {JVM_START_LINE}, noise


def test_a_java_that_cannot_start_is_one_line_after_the_launchers_own(tmp_path: Path) -> None:
    result = finml(tmp_path, "info", "--spark", JAVA_HOME=str(tmp_path / "no-java"))
    assert result.returncode == 1, result.stderr[-3000:]
    error, noise = error_and_noise(result.stderr)
    assert error.startswith("error: Spark could not start: [JAVA_GATEWAY_EXITED]")
    assert result.stderr.rstrip().endswith(error)
    assert "Traceback" not in result.stderr
    assert any("no-java/bin/java" in line for line in noise)  # what the launcher said


def test_a_task_script_logs_the_trace_and_ends_with_the_line(tmp_path: Path) -> None:
    # The job runner shows a failed task's log tail: its last line must be the cause.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FINML_")}
    environ.update(
        FINML_HOME=str(tmp_path),
        FINML_CONFIG=str(REPO / "project_config.yml"),
        FINML_LOG_FORMAT="json",
        JAVA_HOME=str(tmp_path / "no-java"),
    )
    script = REPO / "scripts" / "build_features.py"
    params = ["--catalog", "finml_local", "--schema", "markets", "--env", "local"]
    result = subprocess.run(
        [sys.executable, str(script), *params],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: Spark could not start: [JAVA_GATEWAY_EXITED]")
    logged = json.loads(lines[-2])
    assert logged["event"] == "task_failed" and logged["level"] == "error"
    assert "Traceback (most recent call last)" in logged["exception"]
