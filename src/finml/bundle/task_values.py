"""Task values: how a script hands a small result (a decision, a count) to later tasks.

On Databricks this is ``dbutils.jobs.taskValues``. Under the local job runner, the runner
sets ``FINML_TASK_VALUES_FILE`` for each task; values are written there as JSON and the runner
reads them into ``{{tasks.<task>.values.<key>}}`` references of downstream tasks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from finml.errors import JobError
from finml.log import get_logger

ENV_FILE = "FINML_TASK_VALUES_FILE"
log = get_logger("bundle.task_values")


def set_task_value(key: str, value: Any) -> None:
    """Publish ``key = value`` (JSON-serialisable) for downstream tasks.

    Raises:
        JobError: ``value`` is not JSON-serialisable.
    """
    try:
        json.dumps(value)
    except TypeError as exc:
        raise JobError(
            f"task value {key!r}: expected a JSON value, got {type(value).__name__}"
        ) from exc
    file = os.environ.get(ENV_FILE)
    if file:
        path = Path(file)
        values = read_task_values(path)
        values[key] = value
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        tmp.replace(path)  # atomic: the runner never reads a half-written file
        return
    dbutils = _dbutils()
    if dbutils is not None:
        dbutils.jobs.taskValues.set(key=key, value=value)
    else:
        log.warning("task_value_dropped", key=key, reason="no job runner and no dbutils")


def read_task_values(path: Path) -> dict[str, Any]:
    """The values a task wrote to ``path`` (empty if it wrote none)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise JobError(f"task values file {path}: expected JSON, got: {exc}") from exc
    if not isinstance(data, dict):
        raise JobError(
            f"task values file {path}: expected a JSON object, got {type(data).__name__}"
        )
    return data


def _dbutils() -> Any:
    """Databricks' ``dbutils`` on Databricks compute (``$DATABRICKS_RUNTIME_VERSION`` is set
    there, serverless included), else None. ``databricks.sdk.runtime`` serves it on every
    compute type -- ``pyspark.dbutils.DBUtils`` needs a ``SparkContext``, which serverless
    and Spark Connect sessions do not have."""
    if not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return None
    try:
        from databricks.sdk.runtime import dbutils
    except ImportError:
        return None
    return dbutils
