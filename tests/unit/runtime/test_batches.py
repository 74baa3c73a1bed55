"""The stage batch log: plans are atomic, the first planner wins, and pending batches rerun."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from finml.errors import DeltaEngineError
from finml.runtime.batches import Batch, BatchLog, create_once


def test_batches_are_planned_after_each_other_from_the_previous_end(tmp_path: Path) -> None:
    log = BatchLog(tmp_path / "stage")
    assert log.latest() is None and log.pending() is None
    first = log.plan(4, {"silver": -1})
    assert first == Batch(0, None, 4, {"silver": -1})
    assert log.pending() == first
    assert log.plan(9) == first  # a pending batch runs before anything new is planned
    log.commit(0)
    assert log.pending() is None
    second = log.plan(9, {"silver": 0})
    assert (second.number, second.start, second.end) == (1, 4, 9)
    assert BatchLog(tmp_path / "stage").latest() == second  # durable, read back whole


def test_the_first_plan_wins_and_a_late_planner_gets_it(tmp_path: Path) -> None:
    early, late = BatchLog(tmp_path / "s"), BatchLog(tmp_path / "s")
    won = early.plan(5)
    lost = late.plan(7)  # the existing plan is returned, never replaced
    assert lost == won and lost.end == 5
    assert (tmp_path / "s" / "batches" / "0").read_text() == won.to_json()


def _plan(folder: str, end: int, queue: multiprocessing.Queue) -> None:
    queue.put(BatchLog(Path(folder)).plan(end).end)


def test_processes_planning_at_once_agree_on_one_plan(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [
        context.Process(target=_plan, args=(str(tmp_path / "s"), end, queue))
        for end in range(10, 18)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    ends = {queue.get(timeout=5) for _ in workers}
    assert len(ends) == 1  # every racer runs the same batch
    assert BatchLog(tmp_path / "s").latest().end == ends.pop()


def test_the_log_id_is_stable_and_a_new_log_gets_a_new_one(tmp_path: Path) -> None:
    log = BatchLog(tmp_path / "s")
    assert log.app_id("silver") == BatchLog(tmp_path / "s").app_id("silver")
    before = log.id
    log.reset()
    assert BatchLog(tmp_path / "s").id != before  # old txn ids can't be mistaken for new


def test_create_once_never_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "x"
    assert create_once(path, "first") is True
    assert create_once(path, "second") is False
    assert path.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_an_unreadable_plan_is_a_clear_error(tmp_path: Path) -> None:
    log = BatchLog(tmp_path / "s")
    (tmp_path / "s" / "batches").mkdir(parents=True)
    (tmp_path / "s" / "batches" / "0").write_text("{not json")
    with pytest.raises(DeltaEngineError, match=r"expected a readable plan .*batches/0"):
        log.latest()
