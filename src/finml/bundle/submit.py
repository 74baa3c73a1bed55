"""The ``spark-submit`` command of one local task: small-machine conf, ``src/`` on the path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.config import ProjectConfig

_KILL_GRACE_SECONDS = 10
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the finml package
ENTRY = SOURCE_ROOT / "finml" / "jobs" / "entry.py"


def spark_submit_binary() -> str:
    """The venv's ``spark-submit`` (next to this interpreter), else the one on PATH."""
    candidate = Path(sys.executable).parent / "spark-submit"
    return str(candidate) if candidate.is_file() else "spark-submit"


def command(config: ProjectConfig, script: Path, args: list[str], name: str) -> list[str]:
    """``spark-submit --master local[2] --conf ... <script> <args>`` for ``config``'s Spark."""
    from finml.runtime.session_conf import local_conf, session_jars

    conf = local_conf(config.spark, session_jars(config))
    conf.setdefault("spark.log.level", "WARN")  # task logs: the job's output, not Spark's INFO
    master = conf.pop("spark.master")
    cmd = [spark_submit_binary(), "--master", master, "--name", name]
    for key, value in sorted(conf.items()):
        if key == "spark.driver.memory":
            cmd += ["--driver-memory", value]
        else:
            cmd += ["--conf", f"{key}={value}"]
    return [*cmd, str(script), *args]


def environment(config: ProjectConfig, extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: this interpreter for driver and workers, the folder holding
    the running ``finml`` package first on ``PYTHONPATH`` (so the working tree, not an older
    install, runs), loopback only."""
    src = SOURCE_ROOT
    path = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
    from finml.bundle.in_process import task_environment

    return {
        **os.environ,
        "PYTHONPATH": path,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **task_environment(config, extra),
    }


def wait(
    process: subprocess.Popen[bytes], timeout: float | None
) -> tuple[int | None, RunState, str | None]:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return process.returncode, RunState.TIMEDOUT, f"timed out after {timeout:.0f} s"
    return code, (RunState.SUCCESS if code == 0 else RunState.FAILED), None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The task is a process group (spark-submit -> JVM -> python driver): end all of it.
    for sig, grace in ((signal.SIGTERM, _KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])[-1000:]
