"""Helpers of the serving integration tests (a uniquely named module, importable from the
tests of this folder): a sample record and a real uvicorn server on loopback in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CHAMPION_SEED, CHALLENGER_SEED = 0, 3
RECORD = {"return_z": 1.0, "volume_z": 0.5, "spread_bps": 0.1, "gap_z": 0.0}
ENSEMBLE_MODEL = "ensemble_model"  # the real ensemble champion (conftest: ensemble_home)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: object) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yields the base URL and shuts
    the server down (running the lifespan shutdown) on exit."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
