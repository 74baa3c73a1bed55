"""Manual moves of a registered anomaly-model version, each audited in ``model_transitions``.

``finml models transition VERSION --to T`` (and the MLOps API) move a version by hand:

* ``challenger`` -- ``@challenger`` points at the version (an archived version is
  un-archived): the next gate (``finml promote`` or the retraining job) judges it;
* ``archived`` -- tagged ``finml.archived=true`` with the reason, and ``@challenger`` leaves
  it; the champion cannot be archived (roll back or promote another version first);
* ``champion`` -- not here: through the gate and replay A/B (``promote_version``), or, with
  ``--force``, :func:`finml.models.lifecycle.promote_manual`; both audit in
  ``champion_challenger_audit`` and are recorded here too.

Every call appends one row (``decision`` DONE, UNCHANGED when the version already was
there, or the gate's verdict), so the table tells who moved what, when and why.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from finml.log import get_logger
from finml.models.audit import append_rows
from finml.models.lifecycle import ARCHIVED_REASON, ARCHIVED_TAG, archive, version_info
from finml.registry import CHALLENGER, CHAMPION, by_alias, set_alias
from finml.registry.stages import delete_alias, tag_version

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("models.transitions")

TRANSITIONS = "model_transitions"
Target = Literal["challenger", "champion", "archived"]
TARGETS: tuple[Target, ...] = ("challenger", "champion", "archived")
TRANSITION_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("moved_at", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("version", pa.string()),
        ("to_state", pa.string()),
        ("aliases_before", pa.string()),  # comma-separated
        ("decision", pa.string()),  # DONE | UNCHANGED | the gate's decision
        ("reason", pa.string()),
        ("actor", pa.string()),
        ("gate_event_id", pa.string()),  # champion_challenger_audit.event_id of a promotion
    ]
)


@dataclass(frozen=True)
class Transition:
    event_id: str
    moved_at: datetime
    model_name: str
    version: int
    to_state: str
    aliases_before: tuple[str, ...]
    decision: str
    reason: str
    actor: str
    gate_event_id: str | None = None

    def row(self) -> dict[str, object]:
        values = asdict(self)
        return values | {
            "version": str(self.version),
            "aliases_before": ",".join(self.aliases_before),
        }


def transition(
    config: ProjectConfig,
    tables: DeltaTables,
    name: str,
    version: int,
    to: Target,
    reason: str,
    actor: str = "cli",
) -> Transition:
    """Move ``version`` of ``name`` to ``challenger`` or ``archived`` (see the module doc),
    audited.

    Raises:
        ModelNotFound: no such version. DataError: ``to`` is ``champion`` (use the gate), or
        the version to archive is the champion.
    """
    from finml.errors import DataError

    info = version_info(config, name, version)
    if to == "champion":
        raise DataError("transition to champion goes through the gate: use promote_version")
    if to == "archived":
        champion = by_alias(config, name, CHAMPION)
        if champion is not None and champion.version == version:
            raise DataError(
                f"model {name}: version {version} is @champion and cannot be archived; "
                "roll back or promote another version first"
            )
        done = info.tags.get(ARCHIVED_TAG) == "true" and CHALLENGER not in info.aliases
        if not done:
            archive(config, name, version, reason)
            if CHALLENGER in info.aliases:
                delete_alias(config, name, CHALLENGER)
    else:
        done = CHALLENGER in info.aliases and info.tags.get(ARCHIVED_TAG) != "true"
        if not done:
            set_alias(config, name, CHALLENGER, version)
            if info.tags.get(ARCHIVED_TAG) == "true":
                tag_version(config, name, version, {ARCHIVED_TAG: "false", ARCHIVED_REASON: ""})
    return record(
        tables, name, version, to, info.aliases, "UNCHANGED" if done else "DONE", reason, actor
    )


def record(
    tables: DeltaTables,
    name: str,
    version: int,
    to: str,
    aliases_before: tuple[str, ...] | list[str],
    decision: str,
    reason: str,
    actor: str,
    gate_event_id: str | None = None,
) -> Transition:
    """Append the audit row of one transition and return it."""
    moved = Transition(
        event_id=str(uuid.uuid4()),
        moved_at=datetime.now(UTC),
        model_name=name,
        version=version,
        to_state=to,
        aliases_before=tuple(sorted(aliases_before)),
        decision=decision,
        reason=reason,
        actor=actor,
        gate_event_id=gate_event_id,
    )
    append_rows(tables, TRANSITIONS, [moved.row()], TRANSITION_SCHEMA)
    log.info("model_transition", model=name, version=version, to=to, decision=decision)
    return moved


def require_target(value: str) -> Target:
    """``value`` as a transition target.

    Raises:
        DataError: an unknown target (naming the known ones).
    """
    from finml.errors import DataError

    if value not in TARGETS:
        raise DataError(f"unknown transition target {value!r}; expected one of {list(TARGETS)}")
    return value  # type: ignore[return-value]


__all__ = ["TARGETS", "TRANSITIONS", "Transition", "record", "require_target", "transition"]
