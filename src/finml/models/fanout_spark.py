"""The tournament's fit tasks as Spark tasks, with public DataFrame APIs only (so it runs on
Spark Connect and Databricks serverless: no SparkContext, RDD, broadcast variable or JVM).

Design. The driver holds the training rows (pandas) and the task list. It sends two small
DataFrames to Spark and gets one back:

* ``tasks``: one row per task — ``task_id`` (its position) and ``task`` (the pickled
  :class:`~finml.models.fanout.FitTask` with the walk-forward folds, each fold's rows as
  ``range`` objects: a few bytes, since the folds are contiguous blocks);
* ``chunks``: the training rows (``label`` and the feature columns, nothing else) cut into
  blocks of ``chunk_rows`` rows, each an Arrow IPC stream in one binary cell —
  ``chunk_no``, ``chunk``. Arrow keeps every float64 bit, so a worker fits on exactly the
  driver's numbers;
* ``tasks.repartitionByRange(n, "task_id")`` cross-joined with ``broadcast(chunks)``, then
  ``groupBy("task_id").applyInPandas(run_task_group, "task_id long, outcome binary")``: each
  Spark task receives one fit task with every chunk, rebuilds the rows, runs
  :func:`~finml.models.fanout.run_fit_task` and returns the pickled outcome; the driver
  collects the outcomes and puts them back in task order. The tasks are sent biggest first
  (Spark starts them in partition order), so the longest fits do not start last.

Why this shape. Executors share no file system with the driver, so the rows travel inside
the query. The broadcast join hint (a DataFrame API, not a broadcast variable) ships the
chunks once to each executor, not once per task, and keeps the range partitioning of the
task rows, so the ``groupBy`` needs no second shuffle: one Spark task per fit task. Range
partitioning on distinct ids 0..n-1 into n partitions puts one id in each (hash partitioning
would put several fits in one partition and leave others empty), and a partition count
given by the query is not coalesced by adaptive execution.

Cost. The driver serialises the rows once (≈ 8 bytes a value: 1M rows x 23 columns ≈
185 MB); each executor holds them once in the broadcast and each running fit decodes its own
copy in its Python worker (≈ 2x the rows in memory per concurrent fit, plus the model's own).
Refit outcomes carry the pickled models back to the driver (a forest can be tens of MB).
Alternatives considered: one binary cell with the whole set (hits the 2 GB cell and Arrow
batch limits sooner, and Spark Connect sends a local relation in one message); reading the
training table on the executors (cheaper to ship, but the tournament's set is an in-memory,
sorted and possibly truncated frame — the task would have to reproduce that exactly).

Each fit runs with the task's ``n_jobs`` threads: set ``spark.task.cpus`` to match so Spark
does not put more fits on an executor than it has cores. The workers need the FinML wheel
(the candidates' classes are unpickled by name).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.models.data import LABEL, Split
from finml.models.fanout import (
    FitOutcome,
    FitTask,
    Fold,
    Progress,
    rows_fitted,
    run_fit_task,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TASKS_SCHEMA = "task_id long, task binary"
CHUNKS_SCHEMA = "chunk_no int, chunk binary"
OUTCOME_SCHEMA = "task_id long, outcome binary"
TRAIN_TABLE = "train_set"


def encode_task(task: FitTask, folds: Sequence[Fold]) -> bytes:
    """``task`` and ``folds`` pickled for a worker (contiguous fold rows as ``range``)."""
    compact = [tuple(_compact(rows) for rows in fold) for fold in folds]
    return pickle.dumps((task, compact), protocol=pickle.HIGHEST_PROTOCOL)


def decode_task(blob: bytes) -> tuple[FitTask, list[Fold]]:
    """The task and folds of :func:`encode_task`."""
    task, folds = pickle.loads(blob)  # noqa: S301 - our own driver's task
    return task, folds


def _compact(rows: Any) -> Any:
    """``rows`` as a ``range`` if they are consecutive positions, else unchanged."""
    values = np.asarray(rows)
    if (
        values.ndim == 1
        and len(values)
        and np.array_equal(values, np.arange(values[0], values[0] + len(values)))
    ):
        return range(int(values[0]), int(values[0]) + len(values))
    return rows


def encode_rows(train: Split, chunk_rows: int) -> list[bytes]:
    """``train``'s label and feature columns, in blocks of ``chunk_rows`` rows, each an Arrow
    IPC stream.

    Raises:
        ValueError: ``chunk_rows`` is below 1.
    """
    import pyarrow as pa

    if chunk_rows < 1:
        raise ValueError(f"chunk_rows: expected at least 1, got {chunk_rows}")
    frame = train.frame[[LABEL, *train.features]]
    chunks = []
    for start in range(0, max(len(frame), 1), chunk_rows):
        table = pa.Table.from_pandas(frame.iloc[start : start + chunk_rows], preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        chunks.append(sink.getvalue().to_pybytes())
    return chunks


def decode_rows(chunks: Sequence[bytes]) -> Split:
    """The training rows of :func:`encode_rows` (chunks in order) as a :class:`Split`
    whose features are every column but ``label``."""
    import pyarrow as pa

    tables = [pa.ipc.open_stream(pa.py_buffer(chunk)).read_all() for chunk in chunks]
    frame = pa.concat_tables(tables).to_pandas()
    features = tuple(c for c in frame.columns if c != LABEL)
    return Split(TRAIN_TABLE, frame, features, None)


def run_task_group(group: pd.DataFrame) -> pd.DataFrame:
    """What each Spark task runs (``applyInPandas`` over one ``task_id``): ``group`` has the
    columns ``task_id``, ``task``, ``chunk_no``, ``chunk``, one row per chunk (the task
    repeated), in any order. Returns one row: ``task_id`` and the pickled outcome.

    Raises:
        DataError: the group holds several tasks or misses chunks.
        ConfigError: the task's candidate is unknown (names the candidate).
    """
    ids = group["task_id"].unique()
    chunk_nos = np.sort(group["chunk_no"].to_numpy())
    if len(ids) != 1 or not np.array_equal(chunk_nos, np.arange(len(group))):
        raise DataError(
            f"fit task group: expected one task_id with chunks 0..{len(group) - 1}, got "
            f"task_ids {ids.tolist()} and chunks {chunk_nos.tolist()}"
        )
    ordered = group.sort_values("chunk_no", kind="mergesort")
    task, folds = decode_task(bytes(ordered["task"].iloc[0]))
    train = decode_rows([bytes(c) for c in ordered["chunk"]])
    outcome = run_fit_task(task, train, folds)
    blob = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    return pd.DataFrame({"task_id": [int(ids[0])], "outcome": [blob]})


def decode_outcome(blob: bytes) -> FitOutcome:
    """The :class:`FitOutcome` a Spark task returned."""
    outcome: FitOutcome = pickle.loads(blob)  # noqa: S301 - our own workers' outcome
    return outcome


def collect_outcomes(
    rows: Sequence[tuple[int, bytes]], tasks: Sequence[FitTask]
) -> list[FitOutcome]:
    """The outcomes of ``rows`` ((task_id, pickled outcome), any order) in task order.

    Raises:
        DataError: a task has no outcome, or an outcome is not its task's.
    """
    by_id = {int(task_id): decode_outcome(bytes(blob)) for task_id, blob in rows}
    missing = [tasks[i].label for i in range(len(tasks)) if i not in by_id]
    wrong = [tasks[i].label for i, o in by_id.items() if i >= len(tasks) or o.task != tasks[i]]
    if missing or wrong:
        raise DataError(
            f"fit tasks: expected one outcome per task, got none for {missing} and another "
            f"task's for {wrong}"
        )
    return [by_id[i] for i in range(len(tasks))]


MAX_ROWS_BYTES = 1 << 30  # every chunk travels in each task's Arrow batches: 2 GiB at most


class SparkExecutor:
    """Runs fit tasks as Spark tasks on ``spark`` (classic or Connect); see the module
    docstring for how the rows travel. ``max_bytes`` bounds the encoded training rows (each
    Spark task receives all of them in its Arrow batches, whose binary columns hold 2 GiB at
    most)."""

    def __init__(
        self, spark: SparkSession, *, chunk_rows: int = 50_000, max_bytes: int = MAX_ROWS_BYTES
    ) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows: expected at least 1, got {chunk_rows}")
        self.spark = spark
        self.chunk_rows = chunk_rows
        self.max_bytes = max_bytes

    def outcome_frame(self, tasks: Sequence[FitTask], train: Split, folds: Sequence[Fold]) -> Any:
        """The query that runs ``tasks`` (one Spark task each): rows ``task_id``, ``outcome``.

        Raises:
            DataError: the training rows encode to more than ``max_bytes``.
        """
        from pyspark.sql.functions import broadcast

        chunks = encode_rows(train, self.chunk_rows)
        size = sum(len(chunk) for chunk in chunks)
        if size > self.max_bytes:
            raise DataError(
                f"tournament fan-out: the training rows encode to {size / 2**20:,.0f} MiB, "
                f"expected at most {self.max_bytes / 2**20:,.0f} MiB (every fit task receives "
                "them all in its Arrow batches); lower models.max_train_rows or set "
                "models.fanout: local"
            )
        task_rows = pd.DataFrame(
            {
                "task_id": np.arange(len(tasks), dtype=np.int64),
                "task": [encode_task(t, folds) for t in tasks],
            }
        )
        chunk_rows = pd.DataFrame(
            {"chunk_no": np.arange(len(chunks), dtype=np.int32), "chunk": chunks}
        )
        task_frame = self.spark.createDataFrame(task_rows, schema=TASKS_SCHEMA)
        chunk_frame = self.spark.createDataFrame(chunk_rows, schema=CHUNKS_SCHEMA)
        joined = task_frame.repartitionByRange(len(tasks), "task_id").crossJoin(
            broadcast(chunk_frame)
        )
        return joined.groupBy("task_id").applyInPandas(run_task_group, schema=OUTCOME_SCHEMA)

    def map(
        self,
        tasks: Sequence[FitTask],
        train: Split,
        folds: Sequence[Fold],
        progress: Progress | None = None,
    ) -> list[FitOutcome]:
        if not tasks:
            return []
        note = progress or (lambda _msg: None)
        note(f"fan out {len(tasks)} fit tasks to Spark")
        # biggest fits first: Spark starts the tasks in partition order, so the longest ones
        # do not start last and leave the other slots idle at the end
        order = sorted(range(len(tasks)), key=lambda i: -rows_fitted(tasks[i], train, folds))
        sent = [tasks[i] for i in order]
        result = self.outcome_frame(sent, train, folds)
        outcomes = collect_outcomes([(r["task_id"], r["outcome"]) for r in result.collect()], sent)
        back: list[FitOutcome] = [outcomes[0]] * len(tasks)
        for position, index in enumerate(order):
            back[index] = outcomes[position]
        return back
