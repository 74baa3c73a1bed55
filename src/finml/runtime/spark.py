"""One way to get a SparkSession, and the one-time choice of Delta engine.

* Databricks, ``spark-submit`` or a test fixture: the active session is reused as is.
* Local: a small-machine session (``local[2]``, UI off, few shuffle partitions, serial GC,
  UTC session time zone, microsecond Parquet timestamps).
* Spark Connect (``spark.remote`` / ``$SPARK_REMOTE``): a session on that server
  (:mod:`finml.runtime.connect`); nothing else here touches ``SparkContext``.

The Delta engine is decided once per process: ``delta-spark`` when ``io.delta`` classes load
in the session's JVM (Databricks, or local jars named in ``delta_jars``), else ``delta-rs``.
Nothing here downloads jars, so the choice never waits on an unreachable repository.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from finml.errors import DeltaEngineError
from finml.log import get_logger
from finml.runtime.session_conf import DELTA_EXTENSION, local_conf, session_jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig

log = get_logger("runtime.spark")

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
_engine_choice: str | None = None


def get_spark(
    config: ProjectConfig | None = None, app_name: str = "finml", *, log_level: str = "ERROR"
) -> SparkSession:
    """Return the active SparkSession, else connect to ``config``'s Spark Connect server
    (``spark.remote`` / ``$SPARK_REMOTE``), else start a local session from ``config``.

    ``log_level`` is the level of Spark's own console log (log4j: OFF, ERROR, WARN, ...),
    set from the JVM's start (:data:`LOG4J_CONFIG`) so no start-up banner or warning
    precedes it; a session started elsewhere (``spark-submit``) gets it once it is returned.

    Raises:
        DeltaEngineError: ``delta_jars`` names files that do not exist.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from finml.config import ProjectConfig
    from finml.runtime.connect import remote_session, remote_url

    config = config or ProjectConfig.load()
    remote = remote_url(config)
    if remote:  # Spark Connect: the server owns the JVM, its log and its jars
        return remote_session(remote)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if config.spark.master.startswith("local"):  # a cluster's executors have their own Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    conf = local_conf(config.spark, session_jars(config))
    conf["spark.driver.extraJavaOptions"] = _with_log4j(
        conf.get("spark.driver.extraJavaOptions", ""), log_level
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    started = time.perf_counter()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)  # a local session only: Connect has no context
    log.info(
        "spark_started",
        master=config.spark.master,
        version=spark.version,
        seconds=round(time.perf_counter() - started, 2),
    )
    return spark


def _with_log4j(java_options: str, level: str) -> str:
    """``java_options`` plus FinML's log4j configuration at ``level``, unless the options
    already name a log4j configuration of their own (``spark.conf`` in the project config)
    or the file's path has a space (Spark splits these options on spaces)."""
    if "log4j2.configurationFile" in java_options or " " in str(LOG4J_CONFIG):
        return java_options
    own = f"-Dlog4j2.configurationFile={LOG4J_CONFIG} -Dfinml.spark.log.level={level}"
    return f"{java_options} {own}".strip()


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def delta_classes_loadable(spark: SparkSession) -> bool:
    """True if the session runs Delta: on Databricks, or when its conf loads Delta's SQL
    extension (Spark refuses to start with an extension class it cannot load, so a session
    that started with it has the jars). Asks only the session conf -- no ``SparkContext``,
    so it also answers for a Spark Connect session."""
    if on_databricks():
        return True
    try:
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
    except Exception:  # a session whose conf cannot be read: assume no Delta
        return False
    return DELTA_EXTENSION in extensions


def choose_delta_engine(spark: SparkSession | None, preference: str = "auto") -> str:
    """Decide the Delta engine once per process and log the choice.

    ``auto`` picks ``delta-spark`` when its classes load, else ``delta-rs``. Asking for
    ``delta-spark`` where the classes are absent is an error, not a silent fallback.

    Raises:
        DeltaEngineError: the preferred engine cannot be used.
    """
    global _engine_choice
    if _engine_choice is not None and preference in ("auto", _engine_choice):
        return _engine_choice
    jvm_ok = spark is not None and delta_classes_loadable(spark)
    if preference == "delta-spark" and not jvm_ok:
        raise DeltaEngineError(
            "delta_engine: expected io.delta classes in the Spark session for 'delta-spark', "
            "found none; set delta_jars to local Delta jars "
            "(`make jars` fetches them into .jars: io.delta:delta-spark_4.2_2.13:4.4.0 and more) "
            "or use 'auto'/'delta-rs'"
        )
    choice = "delta-spark" if preference != "delta-rs" and jvm_ok else "delta-rs"
    reason = {
        ("delta-spark", True): "io.delta classes loaded in the Spark JVM",
        ("delta-rs", True): "delta-rs requested",
        ("delta-rs", False): "no io.delta classes in the Spark JVM (jars not available)",
    }[(choice, jvm_ok or preference == "delta-rs")]
    log.debug("delta_engine_selected", engine=choice, reason=reason)
    if spark is not None:  # without a session the JVM was not asked; decide again later
        _engine_choice = choice
    return choice
