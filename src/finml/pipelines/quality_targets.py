"""Quality targets: which batches of a medallion run scored below their layer's target.

Each data-quality record (one per table and stage batch) has a quality score; the
``quality.targets`` setting gives the score each layer must reach. A miss is reported (the
job raises a DATA_QUALITY alert for it) and, with ``quality.on_target_miss: block``, stops
the stages after the one that missed (:class:`QualityTargetMissed`), so nothing downstream
is computed from data below target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from finml.errors import ExpectationFailed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from finml.pipelines.quality import QualityRecord
    from finml.pipelines.settings import QualitySettings


@dataclass(frozen=True)
class TargetMiss:
    layer: str
    table: str
    stage: str
    batch_id: int | None
    score: float
    target: float
    rows_in: int

    def __str__(self) -> str:
        return (
            f"{self.layer} table {self.table} (stage {self.stage}, batch {self.batch_id}): "
            f"quality score {self.score:.3f} below target {self.target:.3f}"
        )


class QualityTargetMissed(ExpectationFailed):
    """A layer missed its quality target and ``on_target_miss`` is ``block``."""

    def __init__(self, misses: list[TargetMiss]) -> None:
        self.misses = misses
        super().__init__(
            "data quality below target, downstream stages blocked: "
            + "; ".join(str(m) for m in misses)
        )


def target_misses(records: Iterable[QualityRecord], settings: QualitySettings) -> list[TargetMiss]:
    """The records whose score is below their layer's target (batches with no rows in are
    not judged: an empty batch has no quality to miss)."""
    misses = []
    for record in records:
        target = settings.targets.get(record.layer)  # type: ignore[call-overload]
        if target is None or record.rows_in == 0 or record.quality_score >= target:
            continue
        misses.append(
            TargetMiss(
                record.layer,
                record.table_name,
                record.stage,
                record.batch_id,
                record.quality_score,
                target,
                record.rows_in,
            )
        )
    return misses
