"""Reading a local table's ``_delta_log`` commits: which files each commit added.

Used for incremental processing, the way Delta's streaming source works: a consumer that has
processed version ``v`` reads only the files added by commits ``v+1 .. latest``. Commits that
remove data (overwrite, delete, merge) make that impossible without reprocessing, so they
raise; ``dataChange=false`` rewrites (OPTIMIZE) are skipped because they add no new rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from finml.errors import DeltaEngineError

if TYPE_CHECKING:
    from deltalake import DeltaTable


def commit_file(root: Path, version: int) -> Path:
    return root / "_delta_log" / f"{version:020d}.json"


def appended_files(root: Path, since: int, until: int) -> list[str]:
    """Absolute paths of data files added by commits ``since+1 .. until`` (inclusive).

    Raises:
        DeltaEngineError: a commit in the range removed data, or its JSON commit file is
            gone (log cleanup) — the consumer needs a full refresh.
    """
    added: list[str] = []
    for version in range(since + 1, until + 1):
        path = commit_file(root, version)
        if not path.is_file():
            raise DeltaEngineError(
                f"table at {root}: expected commit {version} in _delta_log for incremental "
                "reading, found none (log cleaned up?); run a full refresh"
            )
        for line in path.read_text().splitlines():
            action = json.loads(line)
            remove = action.get("remove")
            if remove and remove.get("dataChange", True):
                raise DeltaEngineError(
                    f"table at {root}: commit {version} removed data; incremental reading "
                    "supports appends only; run a full refresh"
                )
            add = action.get("add")
            if add and add.get("dataChange", True):
                added.append(str(root / unquote(add["path"])))
    return added


def appended_records(root: Path, since: int, until: int) -> int | None:
    """Rows added by the data-changing files of commits ``since+1 .. until``, from their
    ``numRecords`` statistics (no data read), or None when a file has none, a commit
    removed data or its file is gone."""
    total = 0
    for version in range(since + 1, until + 1):
        path = commit_file(root, version)
        if not path.is_file():
            return None
        for line in path.read_text().splitlines():
            action = json.loads(line)
            remove = action.get("remove")
            if remove is not None and remove.get("dataChange", True):
                return None
            add = action.get("add")
            if not add or not add.get("dataChange", True):
                continue
            records = json.loads(add.get("stats") or "{}").get("numRecords")
            if records is None:
                return None
            total += int(records)
    return total


def commit_info(root: Path, version: int) -> dict[str, Any]:
    """The ``commitInfo`` action of commit ``version`` (empty if the commit has none).

    Raises:
        DeltaEngineError: the commit file is missing.
    """
    path = commit_file(root, version)
    if not path.is_file():
        raise DeltaEngineError(f"table at {root}: expected commit {version} in _delta_log")
    for line in path.read_text().splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            return dict(action["commitInfo"])
    return {}


def counted_from_log(table: DeltaTable) -> int | None:
    """The table's row count from its files' ``numRecords`` statistics (milliseconds, no
    data read), or None when a file has none or deletion vectors may hide rows."""
    protocol = table.protocol()
    if "deletionVectors" in (protocol.reader_features or []):
        return None
    actions = pa.table(table.get_add_actions(flatten=True))
    if not actions.num_rows:
        return 0
    if "num_records" not in actions.column_names:
        return None
    records = actions.column("num_records")
    if records.null_count:
        return None
    return int(pc.sum(records).as_py())
