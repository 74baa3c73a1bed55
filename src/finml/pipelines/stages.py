"""Incremental stages: what is new upstream, in deterministic batches, exactly once.

A :class:`Stage` reads the versions its source gained since the last batch and writes its
targets. :func:`run_stage` plans each batch in the stage's :class:`~finml.runtime.batches.BatchLog`
before running it, so racing runs execute the same batches; every target is written with
the batch's transaction id (skipped if already committed), then the batch's data-quality
rows -- one per (table, batch) -- with a transaction id of their own, then the batch is
marked complete. A run killed anywhere re-executes the pending batch; each write then
either lands for the first time or is skipped, and the quality rows, computed from the
same inputs, come out the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finml.log import get_logger
from finml.pipelines.quality import DQ_TABLE, QualityRecord, to_arrow
from finml.runtime.batches import Batch, BatchLog
from finml.runtime.delta import Txn

if TYPE_CHECKING:
    from pathlib import Path

    from finml.pipelines.settings import QualitySettings
    from finml.runtime.delta import DeltaTables, Table

log = get_logger("pipelines.stages")


@dataclass(frozen=True)
class BatchContext:
    """What one execution of a batch needs: the tables, the plan and its txn ids."""

    stage: str
    tables: DeltaTables
    batch: Batch
    log: BatchLog
    quality: QualitySettings
    run_id: str

    def txn(self, target: str) -> Txn:
        """The transaction id of this batch's write to ``target``."""
        return Txn(self.log.app_id(target), self.batch.number)

    def state(self, target: str) -> int | None:
        """``target``'s version when the batch was planned (None: it did not exist)."""
        version = self.batch.state.get(target, -1)
        return None if version < 0 else version

    def record(self, layer: str, table: str, **values: object) -> QualityRecord:
        """A quality record of this batch for ``table``."""
        return QualityRecord(
            run_id=self.run_id,
            layer=layer,
            table_name=table,
            source_version=self.batch.end,
            source_start_version=self.batch.start,
            stage=self.stage,
            batch_id=self.batch.number,
            **values,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Stage:
    """A named step from ``source`` to ``targets`` (written in this order by ``execute``).

    ``reads`` are other tables the batch reads; their versions are pinned in the plan
    like the targets', so a re-execution reads the same data. ``legacy_app`` is the
    transaction app id under which the last target held its progress before batch logs
    (keyed by source version), so an existing home continues where it stopped.
    """

    name: str
    source: str
    targets: tuple[str, ...]
    execute: Callable[[BatchContext], list[QualityRecord]]
    reads: tuple[str, ...] = ()
    legacy_app: str | None = None


def run_stage(
    stage: Stage,
    tables: DeltaTables,
    folder: Path,
    quality: QualitySettings,
    run_id: str,
) -> list[QualityRecord]:
    """Run ``stage`` over everything its source gained; returns the quality records of the
    batches this call executed (none when nothing was new)."""
    batch_log = BatchLog(folder / stage.name)
    source = tables.table(stage.source)
    _adopt_legacy_progress(stage, tables, batch_log)
    dq = tables.table(DQ_TABLE)
    records: list[QualityRecord] = []
    while True:
        batch = batch_log.pending() or _plan_next(stage, tables, source, batch_log)
        if batch is None:
            return records
        dq_txn = Txn(batch_log.app_id(DQ_TABLE), batch.number)
        if not batch.baseline and not dq_txn.done_by(dq.txn_version(dq_txn.app_id)):
            context = BatchContext(stage.name, tables, batch, batch_log, quality, run_id)
            done = stage.execute(context)
            if done:
                dq.append(to_arrow(done), txn=dq_txn)
            records += done
        batch_log.commit(batch.number)
        log.info(
            "stage_batch_done",
            stage=stage.name,
            batch=batch.number,
            source_versions=f"{batch.start}..{batch.end}",
        )


def _plan_next(
    stage: Stage, tables: DeltaTables, source: Table, batch_log: BatchLog
) -> Batch | None:
    """Plan a batch up to the source's latest version, or None if nothing is new."""
    if not source.exists():
        return None
    end = source.version()
    latest = batch_log.latest()
    if latest is not None and latest.end >= end:
        return None
    state = {name: _version(tables.table(name)) for name in (*stage.targets, *stage.reads)}
    return batch_log.plan(end, state)


def _version(table: Table) -> int:
    return table.version() if table.exists() else -1


def _adopt_legacy_progress(stage: Stage, tables: DeltaTables, batch_log: BatchLog) -> None:
    """Before batch logs, a stage's last target held its progress as the txn version of
    ``legacy_app``; a home written then continues from there (a committed baseline batch)."""
    if stage.legacy_app is None or batch_log.latest() is not None:
        return
    last = tables.table(stage.targets[-1])
    done = last.txn_version(stage.legacy_app) if last.exists() else None
    if done is not None:
        batch = batch_log.plan(done, baseline=True)
        batch_log.commit(batch.number)
        log.info("stage_progress_adopted", stage=stage.name, source_version=done)
