"""One manual move of a registered anomaly-model version, shared by ``finml models
transition`` and ``POST /mlops/models/{name}/versions/{version}/transition``.

``challenger`` and ``archived`` go through :func:`finml.models.transitions.transition`;
``champion`` through the gate and replay A/B (:func:`finml.jobs.training.promote_version`)
or, with ``force``, :func:`finml.models.lifecycle.promote_manual`, and is then recorded in
``model_transitions`` with the gate's verdict and the id of its ``champion_challenger_audit``
row. Both doors call this function, so they move and audit alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.models.gate import Decision
    from finml.models.transitions import Transition
    from finml.runtime.delta import DeltaTables


@dataclass(frozen=True)
class Moved:
    """What a move did: its audit row, and the gate's decision for a promotion."""

    transition: Transition
    gate: Decision | None = None

    @property
    def moved(self) -> bool:
        """False only when the gate rejected a promotion (nothing moved)."""
        return self.gate is None or self.gate.promoted

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.gate.reasons if self.gate is not None else ()


def move_version(
    config: ProjectConfig,
    tables: DeltaTables,
    version: int,
    to: str,
    *,
    reason: str = "",
    force: bool = False,
    actor: str = "cli",
) -> Moved:
    """Move ``version`` of the anomaly model to ``to`` (challenger | champion | archived);
    ``force`` (champion only) skips the gate and A/B. Every call writes one audit row.

    Raises:
        DataError: an unknown target, or archiving the champion. ModelNotFound: no such
        version. TableNotFound: a promotion through the gate without ``test_set``.
    """
    from finml.jobs.training import promote_version
    from finml.models.lifecycle import promote_manual, version_info
    from finml.models.transitions import record, require_target, transition
    from finml.registry import ANOMALY_MODEL, model_name

    target = require_target(to)
    name = model_name(config, ANOMALY_MODEL)
    if target != "champion":
        return Moved(transition(config, tables, name, version, target, reason, actor))
    before = version_info(config, name, version).aliases
    if force:
        decision = promote_manual(config, tables, version, reason or "forced by hand")
    else:
        decision = promote_version(config, tables, version)
    verdict = str(decision.decision)
    audit = record(tables, name, version, target, before, verdict, reason, actor, decision.event_id)
    return Moved(audit, decision)
