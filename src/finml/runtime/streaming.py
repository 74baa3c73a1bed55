"""Structured Streaming checkpoints shared by every ``availableNow`` query FinML runs.

Two runs may start the same query at once (overlapping scheduled runs, a retry while the
first attempt still runs). Spark creates a checkpoint's ``metadata`` non-atomically and
refuses an offset-log entry another query wrote (or, at the first batch, a checkpoint the
other query has begun to fill); these helpers make the first harmless
and recognise the second, so the loser restarts from the checkpoint and re-runs the batch,
whose transactional writes are then no-ops.

A query can also fail to start for a reason that passes: Spark gives the Python worker of a
``foreachBatch`` function (a Spark Connect server starts one per query) a fixed 10 s to
connect back, which a loaded machine can miss. :func:`restart_reason` names both causes;
restarting is safe for the same reason.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from finml.runtime.batches import create_once

if TYPE_CHECKING:
    from pathlib import Path

_CHECKPOINT_RACE = (
    "Concurrent update to the log",
    "Multiple streaming",
    "concurrently",
    "FileAlreadyExistsException",
    # Spark 4: a query starting its first batch finds files another run's query just wrote
    "STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY",
)


# Spark's PythonWorkerFactory waits a hard-coded 10 s for a new worker to connect back
_WORKER_START = ("Python worker failed to connect back",)


def create_checkpoint(checkpoint: Path) -> None:
    """Create the checkpoint's ``metadata`` (the query id) atomically if it is missing, so
    two runs starting the same query agree on one id instead of one of them failing on
    Spark's own non-atomic creation."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    metadata = checkpoint / "metadata"
    if not metadata.exists():
        create_once(metadata, json.dumps({"id": str(uuid.uuid4())}) + "\n")


def checkpoint_id(checkpoint: Path) -> str:
    """The query id in the checkpoint's ``metadata`` file."""
    return str(json.loads((checkpoint / "metadata").read_text().splitlines()[0])["id"])


def restart_reason(exc: BaseException) -> str | None:
    """Why restarting the failed query from its checkpoint is safe and may succeed -- a
    lost checkpoint race, or a Python worker too slow to start -- or None: a real failure."""
    text = str(exc)
    if any(marker in text for marker in _CHECKPOINT_RACE):
        return "checkpoint_race"
    if any(marker in text for marker in _WORKER_START):
        return "python_worker_start"
    return None
