"""The ``spark-submit`` command of one task: small-machine conf, ``src/`` on the path; on a
cluster target (:mod:`finml.bundle.cluster`) its master, the wheel and the executors' Python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.bundle.cluster import ClusterSpec
    from finml.config import ProjectConfig

_KILL_GRACE_SECONDS = 10
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the finml package
ENTRY = SOURCE_ROOT / "finml" / "jobs" / "entry.py"


def spark_submit_binary() -> str:
    """The venv's ``spark-submit`` (next to this interpreter), else the one on PATH."""
    candidate = Path(sys.executable).parent / "spark-submit"
    return str(candidate) if candidate.is_file() else "spark-submit"


def command(
    config: ProjectConfig,
    script: Path,
    args: list[str],
    name: str,
    cluster: ClusterSpec | None = None,
) -> list[str]:
    """``spark-submit --master local[2] --conf ... <script> <args>`` for ``config``'s Spark;
    with ``cluster``, ``--master`` its URL, ``--py-files`` its wheel (as a ``.zip``) and,
    when it names one, the executors' Python (the driver keeps this interpreter)."""
    from finml.runtime.session_conf import local_conf, session_jars

    conf = local_conf(config.spark, session_jars(config))
    conf.setdefault("spark.log.level", "WARN")  # task logs: the job's output, not Spark's INFO
    master = conf.pop("spark.master")
    extra: list[str] = []
    if cluster is not None:
        master = cluster.master
        extra = ["--py-files", str(cluster.py_file)]
        if cluster.executor_python:
            conf["spark.pyspark.python"] = cluster.executor_python
            conf["spark.pyspark.driver.python"] = sys.executable
    cmd = [spark_submit_binary(), "--master", master, "--name", name, *extra]
    for key, value in sorted(conf.items()):
        if key == "spark.driver.memory":
            cmd += ["--driver-memory", value]
        else:
            cmd += ["--conf", f"{key}={value}"]
    return [*cmd, str(script), *args]


def environment(
    config: ProjectConfig, extra: dict[str, str], cluster: ClusterSpec | None = None
) -> dict[str, str]:
    """The child's environment: this interpreter for driver and workers, the folder holding
    the running ``finml`` package first on ``PYTHONPATH`` (so the working tree, not an older
    install, runs), loopback only.

    With ``cluster`` the driver imports ``finml`` from the shipped wheel (``spark-submit``
    puts ``--py-files`` first on its path), the session's master is the cluster's
    (``FINML_SPARK_MASTER``), and the executors' Python is left to the cluster unless the
    target names one."""
    from finml.bundle.in_process import task_environment

    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **task_environment(config, extra),
    }
    if cluster is None:
        path = (str(SOURCE_ROOT), os.environ.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
        return env
    env["FINML_SPARK_MASTER"] = cluster.master
    if cluster.executor_python:
        env["PYSPARK_PYTHON"] = cluster.executor_python
    else:
        env.pop("PYSPARK_PYTHON")
    return env


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
