"""Restartable stream failures: another run's query got there first, or a batch function's
Python worker missed Spark's start-up timeout; anything else is a real failure."""

from __future__ import annotations

import pytest

from finml.runtime.streaming import checkpoint_id, create_checkpoint, restart_reason

# Spark's own wording (abridged) of the refusals two racing queries on one checkpoint meet
RACES = [
    "org.apache.hadoop.fs.FileAlreadyExistsException: /ckpt/offsets/0 already exists",
    "java.util.ConcurrentModificationException: Multiple streaming queries are concurrently "
    "using /ckpt/offsets",
    "[STREAM_FAILED] Query [id = 6261] terminated with exception: "
    "[STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY] The checkpoint location file:/h/checkpoints/"
    "stages/silver_trades/stream should be empty on batch 0",
]
WORKER_STARTS = [
    "pyspark.errors.exceptions.connect.SparkException: Python worker failed to connect back.",
]
NOT_RESTARTABLE = [
    "[DELTA_SCHEMA_CHANGED] Detected schema change in the source",
    "java.io.FileNotFoundException: /warehouse/silver_trades/part-0001.parquet",
    "[STREAM_FAILED] Query terminated with exception: division by zero",
]


@pytest.mark.parametrize("message", RACES)
def test_a_lost_race_is_recognised(message: str) -> None:
    assert restart_reason(RuntimeError(message)) == "checkpoint_race"


@pytest.mark.parametrize("message", WORKER_STARTS)
def test_a_worker_that_missed_its_start_up_is_recognised(message: str) -> None:
    assert restart_reason(RuntimeError(message)) == "python_worker_start"


@pytest.mark.parametrize("message", NOT_RESTARTABLE)
def test_other_stream_failures_are_not_restarted(message: str) -> None:
    assert restart_reason(RuntimeError(message)) is None


def test_two_runs_creating_one_checkpoint_agree_on_its_query_id(tmp_path) -> None:
    checkpoint = tmp_path / "stream"
    create_checkpoint(checkpoint)
    first = checkpoint_id(checkpoint)
    create_checkpoint(checkpoint)
    assert checkpoint_id(checkpoint) == first
    assert len(first) == 36
