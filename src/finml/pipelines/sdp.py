"""The medallion under open-source Spark Declarative Pipelines (``spark-pipelines run``).

The pipeline spec kept in the repository, ``resources/sdp/spark-pipeline.yml``, names the
library -- ``scripts/dlt_medallion.py``, the source of the Databricks pipeline too
(``resources/medallion_pipeline.yml``) -- and the target schema (``<schema>_dlt``: the
pipeline never writes the jobs' tables). :func:`plan_run` renders it for one FinML home and
builds the ``spark-pipelines`` command; :func:`run_pipeline` runs it as a process.

What a local run needs, and why (each measured with pyspark 4.2.0, delta-spark 4.4.0):

* **The server's Spark conf through ``PYSPARK_SUBMIT_ARGS``**, not ``spark-pipelines
  --conf``. ``spark-pipelines`` runs its Python CLI through ``spark-submit``, which hands
  the conf to Python in chunks of 10 (``PYSPARK_REMOTE_INIT_CONF_0..n``); pyspark's
  ``_start_connect_server`` then *replaces* rather than merges them chunk by chunk, so only
  the last 10 (in hash order) reach the local Spark Connect server. Lost that way, the
  Delta extension gives ``Table does not support reads: spark_catalog.default.<table>``,
  the Delta catalog ``CANNOT_CREATE_DATA_SOURCE_TABLE.EXTERNAL_METADATA_UNSUPPORTED``, the
  warehouse folder defaults to ``./spark-warehouse``. The server's JVM is started by
  pyspark's ``launch_gateway``, which does read ``PYSPARK_SUBMIT_ARGS``.
* **The Delta jars on the JVM's system class path** (``SPARK_DIST_CLASSPATH``), which the
  server's launcher passes on; every thread of the server loads Delta from it.
* ``spark.sql.catalog.spark_catalog`` in the spec's ``configuration`` too (the graph's SQL
  conf), so no table can ever be created outside Delta's catalog; and every table
  ``format="delta"`` (the binding's): SDP's default format is Parquet.
* **The target schema as the warehouse folder**: SDP does not create schemas (``database:
  markets_dlt`` fails with ``SCHEMA_NOT_FOUND``), so the tables are managed tables of the
  ``default`` database in ``<warehouse>/<catalog>/<schema>_dlt`` -- FinML's path for
  ``<catalog>.<schema>_dlt.<table>``, readable by either Delta engine.
* **A fresh start each run**: without a metastore the catalog lives only as long as the
  run, and a second run cannot re-create a managed table over its folder
  (``DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION``). So a local run drops the pipeline's
  tables and storage first: every local declarative run is a full refresh, which is what
  SDP does to materialized views anyway.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from finml.errors import DeclarativePipelineFailed, DeltaEngineError
from finml.log import get_logger
from finml.pipelines import contracts
from finml.pipelines.dlt_binding import LANDING_CONF, QUALITY_CONF
from finml.pipelines.settings import QualitySettings
from finml.runtime.session_conf import (
    DELTA_CATALOG,
    DELTA_EXTENSION,
    SNAPSHOT_CONF,
    local_conf,
)

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("pipelines.sdp")

SPEC_PATH = Path("resources") / "sdp" / "spark-pipeline.yml"
DLT_SCHEMA_SUFFIX = "_dlt"
CATALOG_CONF = "spark.sql.catalog.spark_catalog"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <checkout>/src/finml/pipelines/sdp.py
# Spark confs the launcher sets itself (master: --remote), or passed another way (the jars).
_NOT_PASSED = ("spark.master", "spark.jars")
_FLOW_DONE = re.compile(r"Flow (\S+) has COMPLETED")
_ERROR_LINE = re.compile(r"(?:^|[\s.])(\w*(?:Exception|Error)): (.+)$")
_WRAPPED = re.compile(r"^\([\w.$]+\) [\w.$]+: ")  # "(outer class) inner class: message"
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\.?\s*$")


def declarative_schema(schema: str) -> str:
    """The schema the declarative pipeline writes: the jobs' schema + ``_dlt``."""
    return f"{schema}{DLT_SCHEMA_SUFFIX}"


def find_spec(config: ProjectConfig) -> Path:
    """The repository's pipeline spec: next to the project config, else in this checkout.

    Raises:
        DeclarativePipelineFailed: neither has one.
    """
    places = [_CHECKOUT / SPEC_PATH]
    if config.source_file is not None:
        places.insert(0, config.source_file.parent / SPEC_PATH)
    for place in places:
        if place.is_file():
            return place
    raise DeclarativePipelineFailed(
        f"pipeline spec: expected one of {[str(p) for p in places]}, found none"
    )


@dataclass(frozen=True)
class DeclarativeRun:
    """One ``spark-pipelines run``: the rendered spec, the command and where it writes."""

    spec: Path
    argv: list[str]
    env: dict[str, str]
    folder: Path
    warehouse: Path
    schema: str
    tables: tuple[str, ...] = field(default=tuple(c.name for c in contracts.MEDALLION))


def plan_run(config: ProjectConfig, template: Path | None = None) -> DeclarativeRun:
    """Render the spec for ``config``'s home and build the ``spark-pipelines`` command.

    Raises:
        DeltaEngineError: no Delta jars (the pipeline never writes plain Parquet).
        DeclarativePipelineFailed: no spec, or ``spark-pipelines`` is not installed.
    """
    from finml.runtime.jars import find_delta_jars

    jars = find_delta_jars(config) if config.delta_engine != "delta-rs" else None
    if jars is None:
        raise DeltaEngineError(
            "declarative pipeline: expected the Delta jars (`make jars` fetches them into "
            ".jars), found none; it writes Delta tables only, never plain Parquet"
        )
    template = template or find_spec(config)
    for source in ("trades", "bars"):  # the runner skips a missing folder; a read fails
        (config.landing_dir / source).mkdir(parents=True, exist_ok=True)
    schema = declarative_schema(config.db_schema)
    folder = (config.home / "sdp").resolve()
    warehouse = (config.warehouse_dir / config.catalog.lower() / schema).resolve()
    spec = _render(template, config, folder, warehouse, schema)
    conf = local_conf(config.spark, [])
    conf.update(
        {
            "spark.sql.extensions": DELTA_EXTENSION,
            CATALOG_CONF: DELTA_CATALOG,
            "spark.sql.warehouse.dir": str(warehouse),
            **SNAPSHOT_CONF,
            "spark.sql.connect.serverStacktrace.enabled": "false",
        }
    )
    master = config.spark.master if config.spark.master.startswith("local") else "local[2]"
    argv = [_launcher(), "run", "--spec", str(spec), "--remote", master]
    submit = [f"--conf={key}={value}" for key, value in conf.items() if key not in _NOT_PASSED]
    env = {
        **os.environ,
        # the system class path: every thread of the Connect server loads Delta from it
        "SPARK_DIST_CLASSPATH": os.pathsep.join(str(p) for p in jars.paths),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        # the conf of the Connect server's JVM (see the module docstring: --conf is lost)
        "PYSPARK_SUBMIT_ARGS": " ".join(shlex.quote(arg) for arg in [*submit, "pyspark-shell"]),
    }
    env.pop("SPARK_REMOTE", None)
    return DeclarativeRun(spec, argv, env, folder, warehouse, schema)


def _render(
    template: Path, config: ProjectConfig, folder: Path, warehouse: Path, schema: str
) -> Path:
    """The template with this home's storage, landing, quality bounds and warehouse; the
    libraries re-rooted (SDP resolves them relative to the spec's folder)."""
    spec = yaml.safe_load(template.read_text())
    spec.pop("database", None)  # SDP cannot create it: the warehouse folder is the schema
    spec["storage"] = (folder / "storage").as_uri()
    settings = QualitySettings.from_config(config)
    spec["configuration"] = {
        **spec.get("configuration", {}),
        LANDING_CONF: str(config.landing_dir.resolve()),
        QUALITY_CONF: settings.model_dump_json(),
        CATALOG_CONF: DELTA_CATALOG,
    }
    for library in spec.get("libraries", []):
        source = (template.parent / library["glob"]["include"]).resolve()
        library["glob"]["include"] = os.path.relpath(source, folder)
    folder.mkdir(parents=True, exist_ok=True)
    rendered = folder / "spark-pipeline.yml"
    rendered.write_text(
        f"# Rendered from {template} for {config.home} by finml pipeline run --declarative\n"
        + yaml.safe_dump(spec, sort_keys=False)
    )
    return rendered


def _launcher() -> str:
    """``spark-pipelines`` of this interpreter's environment (else the PATH's).

    Raises:
        DeclarativePipelineFailed: it is not installed.
    """
    beside = Path(sys.executable).parent / "spark-pipelines"
    found = str(beside) if beside.is_file() else shutil.which("spark-pipelines")
    if not found:
        raise DeclarativePipelineFailed(
            "spark-pipelines: expected it next to the Python interpreter or on PATH, found "
            "none (install the `local` extra: pyspark[pipelines])"
        )
    return found


@dataclass(frozen=True)
class DeclarativeResult:
    """What a run did: the flows that completed, in how long, the target schema, the log."""

    flows: tuple[str, ...]
    seconds: float
    schema: str
    log: Path


def run_pipeline(run: DeclarativeRun) -> DeclarativeResult:
    """Run ``spark-pipelines`` from a clean slate (see the module docstring); its output
    goes to ``<home>/sdp/spark-pipelines.log``.

    Raises:
        DeclarativePipelineFailed: the process failed (the message is its error, one line).
    """
    for name in run.tables:
        shutil.rmtree(run.warehouse / name, ignore_errors=True)
    shutil.rmtree(run.folder / "storage", ignore_errors=True)
    run.folder.mkdir(parents=True, exist_ok=True)
    output = run.folder / "spark-pipelines.log"
    started = time.perf_counter()
    with output.open("w") as sink:
        process = subprocess.run(
            run.argv, env=run.env, cwd=run.folder, stdout=sink, stderr=subprocess.STDOUT
        )
    code = process.returncode
    seconds = time.perf_counter() - started
    text = output.read_text(errors="replace")
    if code != 0:
        raise DeclarativePipelineFailed(
            f"spark-pipelines run (exit {code}): {error_line(text)} (log: {output})"
        )
    flows = tuple(_FLOW_DONE.findall(text))
    log.info("declarative_pipeline_done", flows=len(flows), seconds=round(seconds, 1))
    return DeclarativeResult(flows, seconds, run.schema, output)


def error_line(output: str) -> str:
    """The error a failed ``spark-pipelines`` run ends with, on one line, without its
    SQLSTATE: a ``fail`` rule's own error when one was raised (the client only sees the
    write task that failed on it), else the last ``...Exception: message`` line -- the
    Python client's -- ignoring the session-closed noise of the server's shutdown."""
    lines = [line for line in output.splitlines() if "INVALID_HANDLE" not in line]
    raised = [line for line in lines if "[USER_RAISED_EXCEPTION]" in line]
    for line in reversed(raised[-1:] or lines):
        match = _ERROR_LINE.search(line.strip())
        if match:
            message = _WRAPPED.sub("", match.group(2))
            return _SQLSTATE.sub("", f"{match.group(1)}: {message}").strip()
    tail = [line.strip() for line in output.splitlines() if line.strip()]
    return tail[-1] if tail else "no output"
