"""Helpers for running the ``finml`` CLI (with the bundle commands) as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Until finml.cli wires finml.cli.bundle.register, add it here (once) and run the app.
_LAUNCH = (
    "from finml.cli import app, main\n"
    "from finml.cli import bundle\n"
    "if not any(g.name == 'job' for g in app.registered_groups):\n"
    "    bundle.register(app)\n"
    "main()\n"
)


def finml(
    *args: str, home: Path, cwd: Path = REPO, timeout: int = 900, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FINML_HOME": str(home),
        "PYTHONPATH": str(REPO / "src"),
        "FINML_CONFIG": str(config or REPO / "project_config.yml"),
    }
    return subprocess.run(
        [sys.executable, "-c", _LAUNCH, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_runs(home: Path) -> list[dict]:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig(home=home)
    rows = DeltaTables.from_config(config, None).table("job_runs").to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["start_time"], r["task"], r["attempt"]))
