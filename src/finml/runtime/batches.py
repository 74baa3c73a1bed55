"""Deterministic micro-batches over a Delta source's versions: a small offset log.

A stage that processes "what is new" upstream must process the *same* range however many
runs race on it, or two overlapping runs compute overlapping increments and commit both.
Spark's streaming checkpoints solve this with an offset log written before a batch runs;
this is the same idea for stages that read Delta versions:

* ``plan`` writes batch *n* -- source versions ``(start, end]`` plus the target versions
  seen when planning -- with an atomic create. If another run planned *n* first, its
  plan wins and both runs execute that one.
* Executing a batch writes each target with the transaction id ``(app, n)``; the table
  layer commits a given ``(app, n)`` once whatever the timing (see
  :mod:`finml.runtime.delta.conflicts`), so re-executing a batch changes nothing.
* ``commit`` records that batch *n* is complete; only then is *n + 1* planned.

A run killed anywhere re-executes its pending batch; a deleted log gets a new id, so its
transaction ids can never be mistaken for the old log's (the tables must then be rebuilt
with a full refresh, as with a deleted Spark checkpoint).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finml.errors import DeltaEngineError

_LINK_UNSUPPORTED = {errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EOPNOTSUPP}


@dataclass(frozen=True)
class Batch:
    """Batch ``number``: source versions after ``start`` (None: from the first) up to and
    including ``end``; ``state`` holds target versions seen at planning time (-1: missing),
    so a re-execution reads exactly what the first execution read."""

    number: int
    start: int | None
    end: int
    state: dict[str, int] = field(default_factory=dict)
    baseline: bool = False
    stream: bool = False  # planned by a Delta streaming source's micro-batch

    def to_json(self) -> str:
        return json.dumps(
            {
                "number": self.number,
                "start": self.start,
                "end": self.end,
                "state": self.state,
                "baseline": self.baseline,
                "stream": self.stream,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data: dict[str, Any] = json.loads(text)
        return cls(
            number=int(data["number"]),
            start=None if data["start"] is None else int(data["start"]),
            end=int(data["end"]),
            state={str(k): int(v) for k, v in data.get("state", {}).items()},
            baseline=bool(data.get("baseline", False)),
            stream=bool(data.get("stream", False)),
        )


class BatchLog:
    """The offset log of one stage, in a folder of its own (``batches/``, ``commits/``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._batches = self.folder / "batches"
        self._commits = self.folder / "commits"

    @property
    def id(self) -> str:
        """This log's identity (created on first use), part of every transaction app id."""
        path = self.folder / "metadata"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            create_once(path, json.dumps({"id": uuid.uuid4().hex}))
        return str(json.loads(path.read_text())["id"])

    def app_id(self, target: str) -> str:
        """The transaction app id under which this log's batches are written to ``target``."""
        return f"{target}:{self.id}"

    def latest(self) -> Batch | None:
        """The highest planned batch, committed or not."""
        numbers = _numbers(self._batches)
        return self.get(numbers[-1]) if numbers else None

    def get(self, number: int) -> Batch:
        path = self._batches / str(number)
        try:
            return Batch.from_json(path.read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise DeltaEngineError(
                f"batch log {self.folder}: expected a readable plan {path}, got {exc}"
            ) from exc

    def find(self, number: int) -> Batch | None:
        """Batch ``number`` if it was planned."""
        return self.get(number) if (self._batches / str(number)).is_file() else None

    def committed(self, number: int) -> bool:
        return (self._commits / str(number)).is_file()

    def pending(self) -> Batch | None:
        """The latest batch if it was planned but not committed (it must run again)."""
        batch = self.latest()
        return batch if batch is not None and not self.committed(batch.number) else None

    def plan(
        self,
        end: int,
        state: dict[str, int] | None = None,
        *,
        baseline: bool = False,
        stream: bool = False,
    ) -> Batch:
        """Plan the batch after the latest up to ``end`` and return the batch to run next.

        That is our plan, or -- when another run planned first (the latest batch is still
        pending, or the same number was created meanwhile) -- theirs: racing runs always
        agree on the batch to execute.
        """
        previous = self.latest()
        if previous is not None and not self.committed(previous.number):
            return previous
        number = 0 if previous is None else previous.number + 1
        start = None if previous is None else previous.end
        batch = Batch(number, start, end, dict(state or {}), baseline, stream)
        self._batches.mkdir(parents=True, exist_ok=True)
        create_once(self._batches / str(number), batch.to_json())
        return self.get(number)

    def commit(self, number: int) -> None:
        self._commits.mkdir(parents=True, exist_ok=True)
        create_once(self._commits / str(number), "{}")

    def reset(self) -> None:
        """Forget every batch (a full refresh rebuilds the targets from scratch)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _numbers(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def create_once(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` unless it exists; True if this call created it.

    The content is written to a temporary file first and then hard-linked into place, so
    the file appears whole or not at all and a concurrent creator cannot overwrite it.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            temporary.write_text(text)
        except OSError as exc:  # a full disk fails at close, naming no file: name it
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:  # a file system without hard links (some FUSE mounts)
        if exc.errno not in _LINK_UNSUPPORTED:
            raise
        return _create_exclusive(path, text)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _create_exclusive(path: Path, text: str) -> bool:
    try:
        with path.open("x") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        return True
    except FileExistsError:
        return False
