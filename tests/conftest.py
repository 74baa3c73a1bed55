"""Shared fixtures: one local SparkSession for the whole test session (of each pytest-xdist
worker, under `make test`), temp warehouses."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("FINML_LOG_FORMAT", "json")
os.environ.setdefault("FINML_LOG_LEVEL", "WARNING")
for _var in (
    "FINML_ENV",
    "FINML_HOME",
    "FINML_CONFIG",
    "FINML_CATALOG",
    "FINML_DELTA_ENGINE",
    "SPARK_REMOTE",  # a developer's Spark Connect URL would make every session remote
):
    os.environ.pop(_var, None)

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by tier from their folder: tests/spark -> spark, tests/integration -> both."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts[0] == "spark":
            item.add_marker(pytest.mark.spark)
        if parts[0] == "integration":
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("finml_home")


@pytest.fixture(scope="session")
def spark(spark_home: Path) -> Iterator[object]:
    """The one SparkSession of the test session (local[2], UI off, 2 shuffle partitions)."""
    from finml.config import ProjectConfig, SparkSettings
    from finml.runtime.spark import get_spark

    # a session that lives for the whole run: the full JIT pays off (SparkSettings.jit)
    config = ProjectConfig(home=spark_home, spark=SparkSettings(shuffle_partitions=2, jit="tiered"))
    session = get_spark(config, app_name="finml-tests")
    yield session
    session.stop()


@pytest.fixture
def config(tmp_path: Path):
    """A config whose home (warehouse, landing, MLflow) is a fresh temp folder."""
    from finml.config import ProjectConfig

    return ProjectConfig(home=tmp_path / "home")


@pytest.fixture
def tables(config, spark):
    """DeltaTables on the session's engine, in a fresh warehouse."""
    from finml.runtime.delta import DeltaTables

    return DeltaTables.from_config(config, spark)
