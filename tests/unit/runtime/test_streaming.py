"""Checkpoint races: which Spark errors mean "another run's query got there first"."""

from __future__ import annotations

import pytest

from finml.runtime.streaming import checkpoint_id, create_checkpoint, lost_checkpoint_race

# Spark's own wording (abridged) of the refusals two racing queries on one checkpoint meet
RACES = [
    "org.apache.hadoop.fs.FileAlreadyExistsException: /ckpt/offsets/0 already exists",
    "java.util.ConcurrentModificationException: Multiple streaming queries are concurrently "
    "using /ckpt/offsets",
    "[STREAM_FAILED] Query [id = 6261] terminated with exception: "
    "[STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY] The checkpoint location file:/h/checkpoints/"
    "stages/silver_trades/stream should be empty on batch 0",
]
NOT_RACES = [
    "[DELTA_SCHEMA_CHANGED] Detected schema change in the source",
    "java.io.FileNotFoundException: /warehouse/silver_trades/part-0001.parquet",
    "[STREAM_FAILED] Query terminated with exception: division by zero",
]


@pytest.mark.parametrize("message", RACES)
def test_a_lost_race_is_recognised(message: str) -> None:
    assert lost_checkpoint_race(RuntimeError(message))


@pytest.mark.parametrize("message", NOT_RACES)
def test_other_stream_failures_are_not_taken_for_a_race(message: str) -> None:
    assert not lost_checkpoint_race(RuntimeError(message))


def test_two_runs_creating_one_checkpoint_agree_on_its_query_id(tmp_path) -> None:
    checkpoint = tmp_path / "stream"
    create_checkpoint(checkpoint)
    first = checkpoint_id(checkpoint)
    create_checkpoint(checkpoint)
    assert checkpoint_id(checkpoint) == first
    assert len(first) == 36
