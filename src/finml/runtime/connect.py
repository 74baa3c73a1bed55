"""Spark Connect: FinML on a remote Spark (``sc://host:port``), and a local Connect server.

Databricks serverless compute and Spark Connect clients have no ``SparkContext`` and no JVM
in the Python process: there is only the DataFrame/SQL API and the session conf. FinML's
code that runs there (the medallion, the Delta layer, the jobs) keeps to that API, which
``tests/integration/runtime/test_spark_connect.py`` proves by running the medallion through a
Connect server started by :func:`server_command`, from a process that has no JVM.

``spark.remote`` in the config (or pyspark's own ``$SPARK_REMOTE``) makes
:func:`finml.runtime.spark.get_spark` connect instead of starting a local session.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from finml.log import get_logger

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig

log = get_logger("runtime.connect")

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# Session confs a local session sets at start-up that matter for results; a remote session
# gets them per session. Databricks serverless accepts only a few session confs and keeps
# UTC anyway: a refused one is logged, not fatal.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}


def remote_url(config: ProjectConfig) -> str | None:
    """The Spark Connect URL to use: ``spark.remote`` of the config, else ``$SPARK_REMOTE``
    (None: start a local session)."""
    return config.spark.remote or os.environ.get("SPARK_REMOTE") or None


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (no ``SparkContext``, no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def remote_session(url: str) -> SparkSession:
    """A session on the Spark Connect server at ``url``, with :data:`SESSION_CONF`."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).getOrCreate()
    for key, value in SESSION_CONF.items():
        try:
            spark.conf.set(key, value)
        except Exception as exc:  # serverless refuses most confs (CONFIG_NOT_AVAILABLE)
            log.info("session_conf_refused", key=key, error=str(exc).splitlines()[0][:200])
    log.info("spark_connected", remote=url.split(";")[0], version=spark.version)
    return spark


def server_command(config: ProjectConfig, port: int, host: str = "127.0.0.1") -> list[str]:
    """``spark-submit`` of a local Spark Connect server on ``host:port`` with the conf of a
    local FinML session (Delta jars and extensions, small-machine settings). Managed tables
    of ``spark_catalog`` go to ``<home>/spark-warehouse``. Run it with
    :func:`server_environment`; pyspark's wheel ships the server (``spark-connect`` jar)."""
    from finml.runtime.session_conf import local_conf, session_jars

    conf = {
        "spark.sql.warehouse.dir": str((config.home / "spark-warehouse").resolve()),
        **local_conf(config.spark, session_jars(config)),
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
    }
    master = conf.pop("spark.master")
    cmd = [_spark_submit(), "--class", SERVER_CLASS, "--master", master]
    for key, value in sorted(conf.items()):
        if key == "spark.driver.memory":
            cmd += ["--driver-memory", value]
        else:
            cmd += ["--conf", f"{key}={value}"]
    return [*cmd, "spark-internal"]


def server_environment() -> dict[str, str]:
    """The server's environment: this interpreter for its Python workers (``foreachBatch``,
    ``mapInArrow``), which import this finml (first on ``PYTHONPATH``); loopback only."""
    source = str(Path(__file__).resolve().parents[2])  # the folder holding this finml
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def _spark_submit() -> str:
    """The venv's ``spark-submit`` (next to this interpreter), else the one on PATH."""
    candidate = Path(sys.executable).parent / "spark-submit"
    return str(candidate) if candidate.is_file() else "spark-submit"
