"""``finml serve`` as a real process: SIGTERM under load loses no inference-log row, a killed
writer process loses none and doubles none, a killed server loses only rows not yet sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from serving_helpers import RECORD, free_port

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables

CLIENTS = 3
FLUSH_LATE = ("--flush-seconds", "600")
FINML = str(Path(sys.executable).parent / "finml")  # the installed console script
HEADERS = {"Authorization": "Bearer t0ken"}


class Load:
    """``CLIENTS`` threads posting single records until stopped or refused; each answered
    request id is kept with the time it was answered."""

    def __init__(self, base: str) -> None:
        self.base, self.stop = base, threading.Event()
        self.ok: list[tuple[str, float]] = []
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]

    def _client(self, i: int) -> None:
        with httpx.Client(timeout=10, headers=HEADERS) as http:
            for n in range(5_000):
                if self.stop.is_set():
                    return
                try:
                    r = http.post(f"{self.base}/predict", json={**RECORD, "trade_id": f"{i}-{n}"})
                except httpx.HTTPError:
                    return  # the server has stopped accepting: expected after SIGTERM
                if r.status_code == 200:
                    self.ok.append((r.json()["request_id"], time.monotonic()))

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, failed: object, *exc: object) -> None:
        if failed is not None:  # the test failed: do not wait for 5,000 requests each
            self.stop.set()
        for t in self.threads:
            t.join(30)
        self.stop.set()

    def ids(self, before: float = float("inf")) -> list[str]:
        return sorted(rid for rid, at in self.ok if at < before)


class Served:
    """A running ``finml serve``: the process, its base URL, and its stderr once it exited."""

    def __init__(self, proc: subprocess.Popen, base: str) -> None:
        self.proc, self.base, self.stderr = proc, base, ""


@contextmanager
def serve(model_home: Path, tmp_path: Path, *args: str) -> Iterator[Served]:
    """A real ``finml serve`` process with its own warehouse. On leaving, it is given 60 s to
    exit (the test has signalled it) and killed after that."""
    port = free_port()
    env = {
        **os.environ,
        "FINML_HOME": str(model_home),
        "FINML_WAREHOUSE": str(tmp_path / "wh"),
        "FINML_API_TOKEN": "t0ken",
        "FINML_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [FINML, "serve", "--port", str(port), *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    served = Served(server, f"http://127.0.0.1:{port}")
    try:
        _wait_ready(served.base, server)
        yield served
    finally:
        try:
            served.stderr = server.communicate(timeout=60)[1].decode()
        except subprocess.TimeoutExpired:
            server.kill()
            served.stderr = server.communicate()[1].decode()


def test_sigterm_under_load_flushes_every_row(model_home: Path, tmp_path: Path) -> None:
    # Long flush interval: rows stay buffered, so only the shutdown flush can save them.
    with serve(model_home, tmp_path, *FLUSH_LATE) as served, Load(served.base) as load:
        time.sleep(2.0)
        served.proc.send_signal(signal.SIGTERM)  # while the clients are still sending
    assert served.proc.returncode == 0, served.stderr[-2000:]
    assert len(load.ok) > 50  # the load was real
    assert _logged(model_home, tmp_path) == load.ids()


def test_killed_writer_process_under_load_loses_and_doubles_nothing(
    model_home: Path, tmp_path: Path
) -> None:
    """SIGKILL the writer process twice while requests flow (commits every 0.2 s, so some
    frames are in flight each time); the server restarts it and resends, SIGTERM drains."""
    with serve(model_home, tmp_path, "--flush-seconds", "0.2") as served, Load(served.base) as load:
        server = served.proc.pid
        for _ in range(2):
            time.sleep(1.0)
            pid = _writer_pid(server)
            os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
            _wait_for(lambda pid=pid: _writer_pid(server, missing_ok=True) not in (None, pid))
        restarts = _metric(served.base, "finml_inference_log_writer_restarts_total")
        time.sleep(1.0)
        served.proc.send_signal(signal.SIGTERM)
    assert served.proc.returncode == 0, served.stderr[-2000:]
    assert restarts == 2.0
    assert len(load.ok) > 50
    assert _logged(model_home, tmp_path) == load.ids()  # each row exactly once


def test_killed_server_leaves_the_writer_to_commit_what_it_received(
    model_home: Path, tmp_path: Path
) -> None:
    """SIGKILL the server: no shutdown runs, yet its writer process sees its input close and
    commits every row it had been sent (rows are sent every 50 ms) before exiting."""
    with serve(model_home, tmp_path, *FLUSH_LATE) as served, Load(served.base) as load:
        time.sleep(2.0)
        writer = _writer_pid(served.proc.pid, missing_ok=True)
        killed_at = time.monotonic()
        served.proc.send_signal(signal.SIGKILL)
    _wait_for(lambda: writer is None or not Path(f"/proc/{writer}").exists(), seconds=60)
    logged = _logged(model_home, tmp_path)
    assert len(set(logged)) == len(logged) and set(logged) <= set(load.ids())
    answered_early = load.ids(before=killed_at - 1.0)
    assert len(answered_early) > 50 and set(answered_early) <= set(logged)


def _logged(model_home: Path, tmp_path: Path) -> list[str]:
    config = ProjectConfig(home=model_home, warehouse=tmp_path / "wh")
    rows = DeltaTables.from_config(config, None).table("inference_log").to_arrow()
    return sorted(rows.column("request_id").to_pylist())


def _writer_pid(server_pid: int, missing_ok: bool = False) -> int | None:
    """The writer process the server started (a child running ``finml.serving.log_process``)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server_pid and b"finml.serving.log_process" in command:
            return int(stat.parent.name)
    assert missing_ok, "no writer process under the server"
    return None


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _wait_for(condition: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(server.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready within 60 s")
