"""A job's tasks submitted to a Spark cluster rather than ``local[2]``.

A bundle target that sets the variable ``spark_master`` (the ``cluster`` target of
``databricks.yml``) makes the local job runner submit every task with ``--master`` that URL
and ship the ``finml`` wheel with ``--py-files``, as a real cluster needs: its executors have
no ``finml`` installed and import it from the archive Spark copies to them (``finml`` is pure
Python, and a wheel is a zip archive).

The wheel goes as a copy named ``.zip``: PySpark puts a ``--py-files`` entry on the
executors' ``sys.path`` only when it ends in ``.zip``, ``.egg`` or ``.jar``
(``SparkContext.PACKAGE_EXTENSIONS``); a ``.whl`` is copied to them and then ignored, and
every UDF fails with ``No module named 'finml'`` (the cluster test saw it). Variables:

* ``spark_master`` -- ``spark://host:port``, ``k8s://https://...``, ``yarn``; empty: local;
* ``finml_wheel`` -- a built wheel to ship; empty: build one from the bundle for this run;
* ``executor_python`` -- the executors' interpreter (``spark.pyspark.python``); empty: the
  cluster's own.
"""

from __future__ import annotations

import shutil
import subprocess  # pip with fixed arguments, never a shell
import sys
from dataclasses import dataclass
from pathlib import Path

from finml.bundle.variables import Context
from finml.errors import JobError

MASTER_SCHEMES = ("spark://", "k8s://", "yarn", "mesos://", "local")


@dataclass(frozen=True)
class ClusterSpec:
    """Where a task is submitted and what it ships: ``py_file`` is the wheel as a ``.zip``."""

    master: str
    py_file: Path
    executor_python: str | None = None


def cluster_spec(
    context: Context, root: Path, build_dir: Path, *, in_process: bool = False
) -> ClusterSpec | None:
    """The cluster a resolved target submits to, or None for a local run. Without a
    ``finml_wheel`` the wheel is built from the project at ``root`` into ``build_dir``.

    Raises:
        JobError: the master URL has an unknown scheme, the named wheel does not exist, the
            wheel cannot be built, or the run is ``in_process`` (its session is local).
    """
    values = context.values
    master = values.get("var.spark_master", "").strip()
    if not master:
        return None
    if not master.startswith(MASTER_SCHEMES):
        raise JobError(
            f"variables.spark_master: expected a Spark master URL starting with one of "
            f"{list(MASTER_SCHEMES)}, got {master!r}"
        )
    if in_process:
        raise JobError(
            f"target {values.get('bundle.target')!r} submits to {master}: expected a run "
            "through spark-submit, got --in-process (this process's session is local)"
        )
    named = values.get("var.finml_wheel", "").strip()
    if named:
        wheel = Path(named)
        if not (wheel.is_file() and wheel.suffix == ".whl"):
            raise JobError(f"variables.finml_wheel: expected an existing .whl file, got {named}")
    else:
        wheel = build_wheel(root, build_dir)
    python = values.get("var.executor_python", "").strip() or None
    return ClusterSpec(master, as_py_file(wheel, build_dir), executor_python=python)


def as_py_file(wheel: Path, out_dir: Path) -> Path:
    """``wheel`` copied into ``out_dir`` as ``<name>.zip``, the form ``--py-files`` puts on
    the executors' path (see the module docstring)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{wheel.stem}.zip"
    shutil.copyfile(wheel, target)
    return target.resolve()


def build_wheel(root: Path, out_dir: Path, *, timeout: float = 300) -> Path:
    """Build the ``finml`` wheel of the project at ``root`` into ``out_dir`` (the bundle's
    ``artifacts.finml_wheel``, with this interpreter's pip) and return its path.

    Raises:
        JobError: pip failed (its output's tail is in the message) or made no finml wheel.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir)]
    try:
        done = subprocess.run(
            [*cmd, str(root)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise JobError(f"finml wheel: pip wheel {root} took over {timeout:.0f} s") from exc
    wheels = sorted(out_dir.glob("finml-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise JobError(
            f"finml wheel: expected pip wheel {root} to build finml-*.whl in {out_dir}, "
            f"got exit code {done.returncode}: {tail}"
        )
    return wheels[-1]
