"""The ``spark-submit`` command and environment of a task on the ``cluster`` target (master,
wheel, executors' Python) next to the ``local`` target's, which stays as it was. No Spark:
the commands are built, not run (tests/integration/cluster/test_standalone_cluster.py
runs them)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from finml.bundle import submit
from finml.bundle.cluster import ClusterSpec, cluster_spec
from finml.bundle.loader import load_bundle
from finml.bundle.variables import Context, build_context
from finml.config import ProjectConfig
from finml.errors import JobError

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "medallion.py"


@pytest.fixture
def config(tmp_path: Path) -> ProjectConfig:
    return ProjectConfig(home=tmp_path / "home", delta_jars=[])


def option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def confs(cmd: list[str]) -> dict[str, str]:
    pairs = [cmd[i + 1] for i, word in enumerate(cmd) if word == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_local_target_submits_to_local_with_src_on_the_path(config: ProjectConfig) -> None:
    cmd = submit.command(config, SCRIPT, ["--env", "local"], "finml:j:t")
    assert option(cmd, "--master") == "local[2]"
    assert "--py-files" not in cmd
    assert "spark.pyspark.python" not in confs(cmd)
    assert cmd[-3:] == [str(SCRIPT), "--env", "local"]
    env = submit.environment(config, {})
    assert env["PYTHONPATH"].split(":")[0] == str(submit.SOURCE_ROOT)
    assert env["PYSPARK_PYTHON"] == sys.executable


def test_the_cluster_target_submits_to_its_master_with_the_wheel(
    config: ProjectConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)
    wheel = tmp_path / "finml-0.1.0-py3-none-any.zip"
    spec = ClusterSpec("spark://h:7077", wheel, executor_python="/opt/py/bin/python3")
    cmd = submit.command(config, SCRIPT, ["--env", "local"], "finml:j:t", spec)
    assert option(cmd, "--master") == "spark://h:7077"
    assert option(cmd, "--py-files") == str(wheel)
    assert confs(cmd)["spark.pyspark.python"] == "/opt/py/bin/python3"
    assert confs(cmd)["spark.pyspark.driver.python"] == sys.executable
    assert cmd[-3:] == [str(SCRIPT), "--env", "local"]
    env = submit.environment(config, {"FINML_TASK_KEY": "t"}, spec)
    assert env["FINML_SPARK_MASTER"] == "spark://h:7077"  # the driver's session agrees
    assert env["PYSPARK_PYTHON"] == "/opt/py/bin/python3"
    assert env["FINML_TASK_KEY"] == "t"
    assert "PYTHONPATH" not in env  # the driver imports finml from the wheel, not src/


def test_a_cluster_without_an_executor_python_leaves_it_to_the_cluster(
    config: ProjectConfig, tmp_path: Path
) -> None:
    spec = ClusterSpec("spark://h:7077", tmp_path / "finml.zip")
    assert "spark.pyspark.python" not in confs(submit.command(config, SCRIPT, [], "n", spec))
    assert "PYSPARK_PYTHON" not in submit.environment(config, {}, spec)


def test_the_shipped_bundle_has_a_cluster_target_and_local_stays_local(tmp_path: Path) -> None:
    bundle = load_bundle(REPO)
    wheel = tmp_path / "finml-9-py3-none-any.whl"
    wheel.write_bytes(b"PK wheel bytes")
    dist = tmp_path / "dist"
    local = build_context(bundle, "local")
    assert cluster_spec(local, REPO, dist) is None
    cluster = build_context(bundle, "cluster", {"finml_wheel": str(wheel)})
    spec = cluster_spec(cluster, REPO, dist)
    # The wheel ships as a .zip: the only archive form PySpark puts on executors' paths.
    zipped = (dist / "finml-9-py3-none-any.zip").resolve()
    assert spec == ClusterSpec("spark://127.0.0.1:7077", zipped, None)
    assert zipped.read_bytes() == b"PK wheel bytes"
    moved = build_context(
        bundle, "cluster", {"finml_wheel": str(wheel), "spark_master": "spark://m:7177"}
    )
    assert cluster_spec(moved, REPO, dist).master == "spark://m:7177"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"var.spark_master": "http://m:7077"},
            "variables.spark_master: expected a Spark master URL starting with one of",
        ),
        (
            {"var.spark_master": "spark://m:7077", "var.finml_wheel": "/no/such.whl"},
            "variables.finml_wheel: expected an existing .whl file, got /no/such.whl",
        ),
        (
            {"var.spark_master": "spark://m:7077", "bundle.target": "cluster", "in_process": ""},
            "target 'cluster' submits to spark://m:7077: expected a run through spark-submit",
        ),
    ],
)
def test_a_bad_cluster_variable_is_named(
    variables: dict[str, str], message: str, tmp_path: Path
) -> None:
    in_process = variables.pop("in_process", None) is not None
    with pytest.raises(JobError, match=re.escape(message)):
        cluster_spec(Context(variables), REPO, tmp_path, in_process=in_process)


def test_a_wheel_that_cannot_be_built_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")  # not TOML
    with pytest.raises(JobError, match=r"finml wheel: expected pip wheel .* to build finml-"):
        cluster_spec(Context({"var.spark_master": "spark://m:7077"}), tmp_path, tmp_path / "d")
