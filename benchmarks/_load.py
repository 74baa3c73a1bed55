"""Load tools for the serving benchmark: a raw-socket keep-alive client (identical for every
server), latency, throughput and batch timing, server CPU, readiness."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on a raw socket: a few microseconds of client CPU
    per request, so on 2 shared cores the numbers describe the server, not the load tool."""

    def __init__(self, url: str, body: bytes) -> None:
        host, port = url.split("//")[1].split("/")[0].split(":")
        path = "/" + url.split("//")[1].split("/", 1)[1]
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.request, self.buffer = head.encode() + body, b""

    def post(self) -> int:
        """Send the request once; returns the response status."""
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        found = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if found is None:
            raise RuntimeError("response without Content-Length")
        length = int(found.group(1))
        while len(rest) < length:
            rest += self._recv()
        self.buffer = rest[length:]
        return int(head.split(b" ", 2)[1])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def latencies(url: str, body: Any, n: int) -> list[float]:
    """Milliseconds of ``n`` sequential requests on one connection (after 50 warm-up ones)."""
    client = RawClient(url, json.dumps(body).encode())
    for _ in range(50):
        ok(client.post(), url)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        ok(client.post(), url)
        out.append((time.perf_counter() - started) * 1000)
    client.close()
    return out


def throughput(url: str, body: Any, n: int, clients: int) -> float:
    """Requests per second of ``clients`` concurrent keep-alive clients sending ``n`` in all.

    Raises:
        RuntimeError: a request did not answer 200.
    """
    payload = json.dumps(body).encode()
    rps, errors = concurrent([RawClient(url, payload) for _ in range(clients)], n, "post")
    if errors:
        raise RuntimeError(f"{url}: {errors} failed requests under load")
    return rps


def concurrent(clients: list[Any], total: int, send: str) -> tuple[float, int]:
    """Requests per second of ``clients`` (each in its own thread, calling its method
    ``send`` for one request) sending ``total`` in all, and how many did not answer 200.
    The clients are closed afterwards."""
    per_client, errors = max(1, total // len(clients)), []

    def run(client: Any) -> None:
        for _ in range(per_client):
            if getattr(client, send)() != 200:
                errors.append(1)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for c in clients:
        c.close()
    return per_client * len(clients) / elapsed, len(errors)


def ok(status: int, url: str) -> None:
    if status != 200:
        raise RuntimeError(f"{url}: expected 200, got {status}")


def batch_seconds(url: str, body: Any, repeat: int) -> float:
    """Median seconds of one batch request. The body is encoded once, before timing (as the
    single-row client does): encoding 10k records costs the client tens of ms of CPU, which
    on 2 shared cores also slows the server being measured."""
    import httpx

    content, headers = json.dumps(body).encode(), {"content-type": "application/json"}
    with httpx.Client(timeout=120) as http:
        http.post(url, content=content, headers=headers).raise_for_status()  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            http.post(url, content=content, headers=headers).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and every live descendant (a server's
    workers, or finml serve's inference-log writer process, which runs in a session and
    process group of its own)."""
    ticks, parents, cpu = os.sysconf("SC_CLK_TCK"), {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        child = int(stat.parent.name)  # fields after ")": state, ppid, ...
        parents[child], cpu[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {pid}, True
    while grew:
        found = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(cpu.get(p, 0) for p in tree) / ticks


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(cmd: list[str], env: dict[str, str], cwd: Path, base: str) -> Iterator[int]:
    """A server process (its own session, output discarded) ready at ``base``; yields its
    pid and stops it (SIGTERM to its group) on leaving."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(base, proc)
        yield proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Until ``/ready`` (finml) or ``/ping`` (MLflow) answers 200.

    Raises:
        RuntimeError: the server exited or was not ready in time.
    """
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{base}: server exited with {proc.returncode}")
        for probe in ("/ready", "/ping"):
            try:
                if httpx.get(base + probe, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise RuntimeError(f"{base}: not ready within {timeout:.0f} s")
