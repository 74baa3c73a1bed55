"""Fixtures of the cluster test: the finml wheel (built once), an executor Python without
finml, and a standalone master with 2 workers on 127.0.0.1 (stopped after the module)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from standalone import StandaloneCluster, clean_env, python_without_finml

REPO = Path(__file__).resolve().parents[3]


def _require_java_and_jars() -> None:
    missing = []
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("Java (java on PATH or JAVA_HOME)")
    if not any((REPO / ".jars").glob("delta-spark_*.jar")):
        missing.append("the Delta jars in .jars (`make jars` fetches them with Maven)")
    if missing:
        pytest.skip("the cluster test needs " + " and ".join(missing))


@pytest.fixture(scope="module")
def finml_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once from this checkout (``finml_wheel`` of the cluster target)."""
    from finml.bundle.cluster import build_wheel

    return build_wheel(REPO, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def finml_py_file(finml_wheel: Path) -> Path:
    """The wheel as ``--py-files`` ships it (``.zip``), as the job runner makes it."""
    from finml.bundle.cluster import as_py_file

    return as_py_file(finml_wheel, finml_wheel.parent / "py_files")


@pytest.fixture(scope="module")
def executor_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = python_without_finml(tmp_path_factory.mktemp("worker") / "py")
    env = clean_env()
    no_finml = subprocess.run([str(python), "-c", "import finml"], env=env, capture_output=True)
    assert no_finml.returncode != 0, "the executor Python must not import finml"
    assert b"No module named 'finml'" in no_finml.stderr
    libraries = "import pandas, pyarrow, numpy, sklearn, lightgbm, mlflow"
    done = subprocess.run([str(python), "-c", libraries], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return python


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, executor_python: Path
) -> Iterator[StandaloneCluster]:
    _require_java_and_jars()
    logs = tmp_path_factory.mktemp("cluster")
    running = StandaloneCluster(logs, executor_python).start()
    try:
        yield running
    finally:
        running.stop()
