"""A Spark standalone cluster on 127.0.0.1 for the test: pyspark's own ``spark-class``
starts a master and workers (1 core, 1 GiB each), each its own process group, stopped whole.

The workers get a clean environment: no ``PYTHONPATH`` (the test's would hand them the
working tree's ``finml``) and an executor Python (:func:`python_without_finml`) that has the
venv's libraries but not ``finml``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
SPARK_CLASS = SPARK_HOME / "bin" / "spark-class"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python_without_finml(folder: Path) -> Path:
    """A venv at ``folder`` whose site-packages point at this venv's by a plain ``.pth``
    line: pandas, pyarrow, numpy, lightgbm import; ``finml`` does not, because ``.pth`` files
    inside a directory added that way are not processed (finml's editable-install hook is
    one). Returns its python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120
    )
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout.strip()
    Path(purelib, "finml_test_libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would put ``finml`` on a path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")
        and not k.startswith("FINML_")
    }
    return {**env, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(SPARK_HOME), **extra}


@dataclass
class StandaloneCluster:
    """A master and ``workers`` workers; :meth:`start` waits until all are ALIVE."""

    logs: Path
    executor_python: Path
    workers: int = 2
    port: int = field(default_factory=free_port)
    webui: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> StandaloneCluster:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "master",
            "org.apache.spark.deploy.master.Master",
            ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.webui)],
        )
        for n in range(self.workers):
            args = ["--cores", "1", "--memory", "1g", "--host", "127.0.0.1"]
            args += ["--webui-port", str(free_port()), "--work-dir", str(self.logs / f"work{n}")]
            self._spawn(f"worker{n}", "org.apache.spark.deploy.worker.Worker", [*args, self.url])
        self._wait_alive(timeout)
        return self

    def _spawn(self, name: str, main: str, args: list[str]) -> None:
        env = clean_env(
            PYSPARK_PYTHON=str(self.executor_python),
            SPARK_DAEMON_MEMORY="256m",
            SPARK_LOG_DIR=str(self.logs),
        )
        with (self.logs / f"{name}.log").open("wb") as out:
            self.processes.append(
                subprocess.Popen(
                    [str(SPARK_CLASS), main, *args],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.webui}/json/", timeout=5) as r:
                state = json.load(r)
        except OSError:
            return 0
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def _wait_alive(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        alive, dead = 0, []
        while time.monotonic() < deadline:
            dead = [p.args for p in self.processes if p.poll() is not None]
            if dead:
                break
            alive = self.alive_workers()
            if alive == self.workers:
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(
            f"standalone cluster {self.url}: expected {self.workers} ALIVE workers within "
            f"{timeout:.0f} s, got {alive} (exited: {dead}); logs in {self.logs}"
        )

    def stop(self) -> None:
        for process in self.processes:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=15)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.processes.clear()
