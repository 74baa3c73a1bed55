"""Optimistic concurrency for Delta commits: retry a write that lost a commit race.

Both engines commit optimistically: a write reads a snapshot, prepares its actions, and the
commit fails if a concurrent commit made it invalid -- a commit carrying the same
transaction id (``txn`` app id), new data a merge should have read, or anything at all for
an overwrite. The caller's ``attempt`` then runs again on a fresh snapshot, where the
transaction id check skips a write another process already committed. So two writers of the
same idempotent batch commit it exactly once, whatever their timing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from finml.errors import DeltaEngineError
from finml.log import get_logger

log = get_logger("runtime.delta")

ATTEMPTS = 12
Result = TypeVar("Result")


def retry_conflicts(
    table: str,
    attempt: Callable[[], Result],
    is_conflict: Callable[[BaseException], bool],
    *,
    attempts: int = ATTEMPTS,
) -> Result:
    """Run ``attempt`` until it commits, retrying while ``is_conflict`` says it lost a race.

    Raises:
        DeltaEngineError: every attempt lost to a concurrent writer (names the table and
            the last conflict).
    """
    last: BaseException | None = None
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:
            if not is_conflict(exc):
                raise
            last = exc
            log.info("delta_commit_conflict", table=table, attempt=number, error=_first_line(exc))
    raise DeltaEngineError(
        f"table {table}: expected a commit within {attempts} attempts, lost every one to "
        f"concurrent writers; last conflict: {_first_line(last)}"
    )


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    return text.splitlines()[0] if text else type(exc).__name__
