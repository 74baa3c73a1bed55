"""``finml serve`` as a real process: an oversized body is refused while it arrives (413),
with or without a Content-Length, and the server's memory stays flat.

Before, the whole body was read and parsed first: 772 MB of JSON peaked at 4.7 GB.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving_helpers import RECORD, free_port

LIMIT = 1 << 20  # serving.max_body_bytes in the config file below
OFFERED = 96 << 20  # what the client would send if nobody stopped it
# Bytes that may leave the client before the 413 reaches it: the limit plus the loopback
# socket buffers (a few MB each way). Far below OFFERED.
SENT_AT_MOST = LIMIT + (24 << 20)
FINML = str(Path(sys.executable).parent / "finml")


@pytest.fixture
def server(model_home: Path, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of ``finml serve`` with a 1 MiB body limit from project_config.yml."""
    config = tmp_path / "project_config.yml"
    config.write_text(f"serving:\n  max_body_bytes: {LIMIT}\n")
    port = free_port()
    env = {
        **os.environ,
        "FINML_CONFIG": str(config),
        "FINML_HOME": str(model_home),
        "FINML_WAREHOUSE": str(tmp_path / "wh"),
        "FINML_LOG_LEVEL": "WARNING",
    }
    env.pop("FINML_API_TOKEN", None)
    proc = subprocess.Popen(
        [FINML, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(port, proc)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(60)


def test_chunked_upload_without_length_is_stopped_at_the_limit(server) -> None:
    port, pid = server
    _warm_up(port)
    peak_before = _peak_rss(pid)
    status, sent = _upload(port, {"Transfer-Encoding": "chunked"}, chunked=True)
    assert status == 413
    assert sent < SENT_AT_MOST, f"{sent:,} bytes went out before the answer"
    assert _peak_rss(pid) - peak_before < 32 << 20  # no copy of the 96 MB upload
    assert _ready(port)  # and the server carries on


def test_declared_length_over_the_limit_is_refused_before_reading(server) -> None:
    port, _ = server
    started = time.monotonic()
    status, sent = _upload(port, {"Content-Length": str(10**10)}, chunked=False, send=False)
    assert status == 413 and sent == 0
    assert time.monotonic() - started < 10  # answered at once, not after a read timeout


def test_body_within_the_limit_is_served(server) -> None:
    port, _ = server
    r = httpx.post(f"http://127.0.0.1:{port}/predict/batch", json={"records": [RECORD] * 3})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 3


def _upload(
    port: int, headers: dict[str, str], *, chunked: bool, send: bool = True
) -> tuple[int | None, int]:
    """POST a ``{"records": [...]}`` body of up to OFFERED bytes to /predict/batch, watching
    for the answer between pieces. Returns (status, bytes sent before the answer)."""
    piece = (json.dumps(RECORD) + ", ") * 2_000
    frame = f"{len(piece):x}\r\n{piece}\r\n".encode() if chunked else piece.encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        f"POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{head}\r\n".encode()
    )
    sent = 0
    try:
        opening = b'{"records": ['
        sock.sendall(f"{len(opening):x}\r\n".encode() + opening + b"\r\n" if chunked else opening)
        sent += len(opening)
        while send and sent < OFFERED and not select.select([sock], [], [], 0)[0]:
            sock.settimeout(5)  # a server that stopped reading leaves a full window
            sock.sendall(frame)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # the server closed or stopped reading: the answer is already on its way
    sock.settimeout(30)
    answer = _read_head(sock)
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer else None
    return status, sent if send else 0


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def _warm_up(port: int) -> None:
    """Load every code path of a batch once, so the peak before the upload is honest."""
    for _ in range(3):
        r = httpx.post(f"http://127.0.0.1:{port}/predict/batch", json={"records": [RECORD] * 50})
        assert r.status_code == 200


def _ready(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200


def _wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        try:
            if _ready(port):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready within 60 s")
