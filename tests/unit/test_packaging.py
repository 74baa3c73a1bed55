"""The wheel installs on a Databricks runtime without replacing its Spark: PySpark and
delta-spark come only with the ``local`` extra, which every local install command asks for."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
SPARK_PACKAGES = {"pyspark", "delta-spark"}


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_pyproject_keeps_spark_out_of_the_core_dependencies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not names(project["dependencies"]) & SPARK_PACKAGES
    local = {Requirement(r).name.lower(): r for r in project["optional-dependencies"]["local"]}
    assert set(local) >= SPARK_PACKAGES
    assert Requirement(local["pyspark"]).extras == {"pipelines"}  # Connect client, SDP
    # the pair the Delta jars of jvm/pom.xml match
    assert str(Requirement(local["pyspark"]).specifier) == "==4.2.0"
    assert str(Requirement(local["delta-spark"]).specifier) == "==4.4.0"
    assert "<delta.version>4.4.0</delta.version>" in (REPO / "jvm" / "pom.xml").read_text()


def test_the_installed_metadata_asks_for_spark_only_with_the_local_extra() -> None:
    """What the built distribution declares (``Requires-Dist``), not only the source."""
    meta = metadata("finml")
    assert "local" in (meta.get_all("Provides-Extra") or [])
    spark = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    spark = [r for r in spark if r.name.lower() in SPARK_PACKAGES]
    assert {r.name.lower() for r in spark} == SPARK_PACKAGES
    for requirement in spark:
        assert requirement.marker is not None
        assert requirement.marker.evaluate({"extra": "local"})
        assert not requirement.marker.evaluate({"extra": ""})  # a plain `pip install finml`


def test_every_local_install_command_asks_for_the_local_extra() -> None:
    makefile = (REPO / "Makefile").read_text()
    installs = re.findall(r'pip install[^\n]*-e "\.\[([a-z,]+)\]"', makefile)
    assert installs, "no editable install in the Makefile"
    assert all("local" in extras.split(",") for extras in installs), installs
    assert "make test" in (REPO / ".ci" / "run").read_text()
