"""Registry actions with an audit trail: gate a registered version against the champion --
holdout gate, then a replay A/B when a champion exists -- (``champion_challenger_audit``,
``ab_tests``) and roll the champion back (``rollback_audit``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from finml.log import get_logger
from finml.models.audit import (
    CHAMPION_CHALLENGER_AUDIT,
    GATE_SCHEMA,
    ROLLBACK_AUDIT,
    ROLLBACK_SCHEMA,
    append_rows,
)
from finml.models.gate import ChampionChallenger, Decision
from finml.models.lifecycle import (
    CHECK_TAG,
    RESTORED,
    ROLLED_BACK,
    archive,
    promote_tagged,
    version_info,
)
from finml.models.metrics import MetricSettings
from finml.registry import CHAMPION, by_alias, configure, model_uri
from finml.registry.stages import roll_back, tag_version
from finml.vocabulary import GateDecision

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.models.data import Split
    from finml.models.settings import ModelSettings
    from finml.models.validator import ValidationReport
    from finml.runtime.delta import DeltaTables
    from finml.serving.settings import ServingSettings

log = get_logger("models.promotion")
FEATURE_TABLE = "trade_features"
METRIC_TAG = "finml.metric."


def version_uri(name: str, version: int) -> str:
    return f"models:/{name}/{version}"


def score_version(name: str, version: int, holdout: Split) -> np.ndarray:
    """Holdout scores of registered version ``version`` of ``name`` (loaded from MLflow)."""
    import mlflow

    model = mlflow.pyfunc.load_model(version_uri(name, version))
    inputs = holdout.frame[list(holdout.features)].astype(np.float64)
    return model.predict(inputs)["score"].to_numpy()


def _holdout_gate(settings: ModelSettings) -> ChampionChallenger:
    """The holdout gate on the tournament's primary metric."""
    metrics = MetricSettings(settings.precision_at_k, settings.recall_at_fpr)
    return ChampionChallenger(settings.gate, settings.primary_metric, metrics)


def gate(
    config: ProjectConfig,
    tables: DeltaTables,
    settings: ModelSettings,
    name: str,
    version: int,
    holdout: Split,
    validation: ValidationReport,
    *,
    serving: ServingSettings | None = None,
) -> Decision:
    """Decide on ``version`` against the current champion, audit the decision and move the
    aliases.

    1. The holdout gate (:class:`ChampionChallenger`) on ``holdout``.
    2. If it says PROMOTE and a champion exists: a replay A/B on the latest labelled window
       (:mod:`finml.models.replay_ab`, one ``ab_tests`` row); the challenger is promoted
       unless it is significantly worse there. Without such a window
       ``models.replay_ab.without_window`` decides (default: the gate alone).
    3. PROMOTE moves ``champion`` (the old one becomes ``previous-champion``; ``challenger``
       stays); REJECT archives the challenger by tag. One ``champion_challenger_audit`` row
       holds the final decision, the holdout verdict and the A/B's ``ab_test_id``.
    """
    configure(config)
    champion = by_alias(config, name, CHAMPION)
    champion_scores = (
        score_version(name, champion.version, holdout) if champion is not None else None
    )
    challenger_scores = validation.scores
    if challenger_scores is None:
        challenger_scores = score_version(name, version, holdout)
    decision = _holdout_gate(settings).decide(
        holdout.y,
        challenger_scores,
        champion_scores,
        model_name=name,
        challenger_version=version,
        champion_version=champion.version if champion else None,
        validation=validation,
    )
    decision = replace(decision, holdout_decision=decision.decision)
    kind = "gate"
    if decision.promoted and champion is not None and settings.replay_ab.enabled:
        decision = _replay_ab(config, tables, settings, decision, serving)
        kind = "replay_ab"
    checks = {c.name: {"passed": c.passed, "detail": c.detail} for c in validation.checks}
    append_rows(
        tables,
        CHAMPION_CHALLENGER_AUDIT,
        [decision.audit_row() | {"validation": json.dumps(checks)}],
        GATE_SCHEMA,
    )
    tags = {"finml.gate_decision": str(decision.decision), "finml.gate_event": decision.event_id}
    tag_version(config, name, version, tags)
    if decision.promoted:
        promote_tagged(config, name, version, event_id=decision.event_id, kind=kind)
    elif champion is None or champion.version != version:  # never archive the champion
        archive(config, name, version, "; ".join(decision.reasons))
    log.info("gate_decided", model=name, version=version, decision=decision.decision)
    return decision


def _replay_ab(
    config: ProjectConfig,
    tables: DeltaTables,
    settings: ModelSettings,
    decision: Decision,
    serving: ServingSettings | None,
) -> Decision:
    """The holdout-approved ``decision`` after the replay A/B (final decision, reasons and
    ``ab_test_id``)."""
    from finml.models.replay_ab import run_replay_ab, training_end_day
    from finml.serving.settings import ServingSettings

    name, version = decision.model_name, decision.challenger_version
    assert decision.champion_version is not None
    after = training_end_day(version_info(config, name, version).tags)
    ab = run_replay_ab(
        tables,
        settings.replay_ab,
        serving or ServingSettings.from_config(config),
        name,
        decision.champion_version,
        version,
        after=after,
    )
    if ab is None:
        missing = (
            f"no complete labelled window in {settings.replay_ab.labels_table} after the "
            f"training window (ends {after or 'unknown'}) for a replay A/B"
        )
        if settings.replay_ab.without_window == "reject":
            return replace(
                decision, decision=GateDecision.REJECT, reasons=(*decision.reasons, missing)
            )
        return replace(
            decision, reasons=(*decision.reasons, f"{missing}: the holdout gate decides")
        )
    final = GateDecision.PROMOTE if ab.promote else GateDecision.REJECT
    return replace(
        decision, decision=final, reasons=(*decision.reasons, ab.reason), ab_test_id=ab.test_id
    )


@dataclass(frozen=True)
class RollbackRecord:
    event_id: str
    model_name: str
    from_version: int
    to_version: int
    reason: str
    feature_table_version: int | None
    feature_table_restored: bool


def rollback(
    config: ProjectConfig,
    tables: DeltaTables,
    name: str,
    reason: str,
    *,
    restore_features: bool = False,
) -> RollbackRecord:
    """Point ``champion`` back at ``previous-champion`` and record it in ``rollback_audit``;
    with ``restore_features``, overwrite ``trade_features`` with the Delta version the restored
    model was trained on (time travel).

    Raises:
        ModelNotFound: there is no champion or no previous champion.
    """
    removed, restored = roll_back(config, name)
    tag_version(config, name, removed.version, {CHECK_TAG: ROLLED_BACK})
    tag_version(config, name, restored.version, {CHECK_TAG: RESTORED})
    feature_version = restored.tags.get("finml.feature_table_version")
    feature_version_int = (
        int(feature_version) if feature_version not in (None, "", "None") else None
    )
    restored_features = False
    if restore_features and feature_version_int is not None:
        table = tables.require(FEATURE_TABLE)
        if table.version() != feature_version_int:
            data = table.to_arrow(version=feature_version_int)
            table.overwrite(
                data, metadata={"finml.restored_from_version": str(feature_version_int)}
            )
            restored_features = True
    record = RollbackRecord(
        str(uuid.uuid4()), name, removed.version, restored.version, reason,
        feature_version_int, restored_features,
    )  # fmt: skip
    row = {
        **record.__dict__,
        "rolled_back_at": datetime.now(UTC),
        "from_version": str(removed.version),
        "to_version": str(restored.version),
        "decision": GateDecision.ROLLBACK.value,
        "from_metrics": json.dumps(_metrics(removed.tags)),
        "to_metrics": json.dumps(_metrics(restored.tags)),
    }
    append_rows(tables, ROLLBACK_AUDIT, [row], ROLLBACK_SCHEMA)
    log.info("rolled_back", model=name, removed=removed.version, restored=restored.version)
    return record


def _metrics(tags: dict[str, str]) -> dict[str, float]:
    return {k[len(METRIC_TAG) :]: float(v) for k, v in tags.items() if k.startswith(METRIC_TAG)}


__all__ = ["RollbackRecord", "gate", "model_uri", "rollback", "score_version", "version_uri"]
