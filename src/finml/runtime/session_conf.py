"""The conf of a local FinML session (small-machine settings, the Delta jars and extensions),
shared by ``get_spark``, the local Spark Connect server and ``spark-submit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from finml.errors import DeltaEngineError

if TYPE_CHECKING:
    from finml.config import ProjectConfig, SparkSettings

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# Rebuilding a table's state from its log (every MERGE, every write with a transaction id)
# is a Spark job of 50 partitions by default. One partition holds a small machine's logs:
# measured warm on 2 cores, a 1,000-row append with a txn id 0.93-1.03 s (1.96 s with 4
# partitions), a MERGE 1.8 s (3.3 s). A session's ``spark.conf`` overrides it.
SNAPSHOT_CONF = {"spark.databricks.delta.snapshotPartitions": "1"}
CODEGEN_CACHE_ENTRIES = 2000


def local_conf(settings: SparkSettings, delta_jars: list[str]) -> dict[str, str]:
    """The Spark conf of a local session tuned for a 2-core machine (``settings.jit``
    chooses the JIT: see :class:`~finml.config.SparkSettings`)."""
    jvm_flags = "-XX:+UseSerialGC -Duser.timezone=UTC"
    if settings.jit == "c1":
        jvm_flags += " -XX:TieredStopAtLevel=1"
    conf = {
        "spark.master": settings.master,
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.default.parallelism": str(max(2, settings.shuffle_partitions)),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Spark compiles each query's generated code with Janino, then the JIT compiles the
        # new classes again; the cache of compiled code keeps 100 by default, fewer than a
        # replay day's query shapes, so every day recompiled the same code. Measured on an
        # 8-day replay: the medallion 101.5 -> 87.6 s, the wall 229 -> 211 s.
        "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
        "spark.driver.extraJavaOptions": jvm_flags,
        "spark.executor.extraJavaOptions": jvm_flags,
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    if delta_jars:
        missing = [jar for jar in delta_jars if not Path(jar).is_file()]
        if missing:
            raise DeltaEngineError(f"delta_jars: expected existing jar files, missing {missing}")
        conf["spark.jars"] = ",".join(str(Path(jar).resolve()) for jar in delta_jars)
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
        conf.update(SNAPSHOT_CONF)
        # VACUUM lists the table with this many tasks (10,000 by default: minutes here).
        conf["spark.sql.sources.parallelPartitionDiscovery.parallelism"] = str(
            max(2, settings.shuffle_partitions)
        )
    conf.update(settings.conf)
    return conf


def session_jars(config: ProjectConfig) -> list[str]:
    """The Delta jars a local session of ``config`` loads (see :mod:`finml.runtime.jars`);
    none when the config asks for delta-rs.

    Raises:
        DeltaEngineError: named jars are missing, or a jar folder is incomplete.
    """
    from finml.runtime.jars import find_delta_jars

    if config.delta_engine == "delta-rs":
        return []
    jars = find_delta_jars(config)
    return [str(path) for path in jars.paths] if jars else []
