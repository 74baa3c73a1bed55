"""The ``job_runs`` audit table: one row per task attempt of a local job run.

Rows are small and written from the runner's driver process, so they go through delta-rs as
Arrow (no Spark session in the runner). The same schema is declared in
``sql/10_audit_tables.sql``; a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

JOB_RUNS_TABLE = "job_runs"

JOB_RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("job", pa.string()),
        ("task", pa.string()),
        ("attempt", pa.int32()),
        ("state", pa.string()),
        ("start_time", pa.timestamp("us", tz="UTC")),
        ("end_time", pa.timestamp("us", tz="UTC")),
        ("seconds", pa.float64()),
        ("exit_code", pa.int32()),
        ("logs_path", pa.string()),
        ("target", pa.string()),
        ("git_commit", pa.string()),
        ("message", pa.string()),
    ]
)


@dataclass(frozen=True)
class TaskAttempt:
    """One row of ``job_runs``."""

    run_id: str
    job: str
    task: str
    attempt: int
    state: RunState  # finml.vocabulary: the final states as Databricks Jobs names them
    start_time: datetime
    end_time: datetime
    seconds: float
    exit_code: int | None
    logs_path: str | None
    target: str
    git_commit: str
    message: str | None = None


def record(tables: DeltaTables, attempt: TaskAttempt) -> None:
    """Append ``attempt`` to ``job_runs`` (created on first use)."""
    row = {**asdict(attempt), "state": str(attempt.state)}  # Arrow gets a plain str
    table = pa.Table.from_pylist([row], schema=JOB_RUNS_SCHEMA)
    tables.table(JOB_RUNS_TABLE).append(table, metadata={"finml.job_run": attempt.run_id})
