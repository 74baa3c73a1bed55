"""``finml dashboard serve``: the exported site over stdlib ``http.server`` on loopback."""

from __future__ import annotations

from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from finml.errors import DataError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are not worth a log line each

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # always show the newest export
        super().end_headers()


def make_server(site_dir: Path, host: str = "127.0.0.1", port: int = 8050) -> ThreadingHTTPServer:
    """A server for ``site_dir`` (port 0 picks a free port: see ``server.server_address``).

    Raises:
        DataError: ``site_dir`` has no ``index.html`` (export first).
    """
    if not (site_dir / "index.html").is_file():
        raise DataError(
            f"dashboard folder {site_dir}: expected index.html, got none "
            "(run `finml dashboard export` first)"
        )
    handler = partial(_QuietHandler, directory=str(site_dir))
    return ThreadingHTTPServer((host, port), handler)
