"""``finml dashboard export|serve`` through typer, and ``serve`` as a real process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from finml.cli.common import State
from finml.cli.dashboard import register


def _app(config) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = State(_config=config)

    register(app)
    return app


def test_export_command_prints_the_file_uri(config, tmp_path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(_app(config), ["dashboard", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").resolve().as_uri() in result.output.replace("\n", "")
    assert (out / "snapshot.js").is_file()


def test_help_has_examples() -> None:
    from finml.config import ProjectConfig

    result = CliRunner().invoke(_app(ProjectConfig()), ["dashboard", "export", "--help"])
    assert result.exit_code == 0
    assert "Example: finml dashboard export" in result.output


def test_serve_missing_site_fails_clearly(config, tmp_path) -> None:
    args = ["dashboard", "serve", "--no-export", "--out", str(tmp_path / "nothing")]
    result = CliRunner().invoke(_app(config), args)
    assert result.exit_code == 1
    assert "expected index.html" in result.output


def test_serve_process_serves_the_site_on_loopback(tmp_path: Path) -> None:
    """A real process: ``make_server`` on a free port serving an exported site."""
    from finml.config import ProjectConfig
    from finml.jobs.dashboard import export_dashboard

    config = ProjectConfig(home=tmp_path / "home")
    site = export_dashboard(config).parent
    code = (
        "import sys; from pathlib import Path; from finml.dashboard.serve import make_server;"
        "s = make_server(Path(sys.argv[1]), '127.0.0.1', 0);"
        "print(s.server_address[1], flush=True); s.serve_forever()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(site)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while True:
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert index.status_code == 200 and "snapshot.js" in index.text
        assert index.headers["cache-control"] == "no-store"
        snapshot = httpx.get(f"http://127.0.0.1:{port}/snapshot.js", timeout=2)
        assert snapshot.text.startswith("window.FINML_SNAPSHOT")
        assert httpx.get(f"http://127.0.0.1:{port}/nope", timeout=2).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
