"""``finml serve`` as a real process: SIGTERM under load loses no inference-log row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from serving_helpers import RECORD, free_port

from finml.config import ProjectConfig
from finml.runtime.delta import DeltaTables

CLIENTS = 3
FLUSH_LATE = ("--flush-seconds", "600")
FINML = str(Path(sys.executable).parent / "finml")  # the installed console script


def test_sigterm_under_load_flushes_every_row(model_home: Path, tmp_path: Path) -> None:
    port, warehouse = free_port(), tmp_path / "wh"
    env = {
        **os.environ,
        "FINML_HOME": str(model_home),
        "FINML_WAREHOUSE": str(warehouse),
        "FINML_API_TOKEN": "t0ken",
        "FINML_LOG_LEVEL": "WARNING",
    }
    # Long flush interval: rows stay buffered, so only the shutdown flush can save them.
    server = subprocess.Popen(
        [FINML, "serve", "--port", str(port), *FLUSH_LATE],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer t0ken"}
    try:
        _wait_ready(base, server)
        ok: list[str] = []
        stop = threading.Event()

        def client(i: int) -> None:
            with httpx.Client(timeout=10, headers=headers) as http:
                for n in range(5_000):
                    if stop.is_set():
                        return
                    try:
                        r = http.post(f"{base}/predict", json={**RECORD, "trade_id": f"{i}-{n}"})
                    except httpx.HTTPError:
                        return  # the server has stopped accepting: expected after SIGTERM
                    if r.status_code == 200:
                        ok.append(r.json()["request_id"])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        server.send_signal(signal.SIGTERM)  # while the clients are still sending
        for t in threads:
            t.join(30)
        stop.set()
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, stderr.decode()[-2000:]
    config = ProjectConfig(home=model_home, warehouse=warehouse)
    rows = DeltaTables.from_config(config, None).table("inference_log").to_arrow()
    assert len(ok) > 50  # the load was real
    assert rows.num_rows == len(ok)
    assert sorted(rows.column("request_id").to_pylist()) == sorted(ok)


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
