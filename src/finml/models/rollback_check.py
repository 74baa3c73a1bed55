"""Automatic rollback: a newly promoted champion that underperforms live in its first
monitoring windows is replaced by its predecessor, audited and alerted.

The champion's first windows are its ``model_monitoring`` windows (labelled, at least
``min_labelled`` rows, PR-AUC defined) starting at or after its ``finml.live_from`` tag (the
end of its holdout window: earlier data is not live for it), oldest first. A window
*violates* when its PR-AUC is more than ``margin`` below

* the predecessor's level: the mean live PR-AUC of the previous champion's last ``windows``
  windows before that point, else its registered holdout PR-AUC (``finml.metric.pr_auc``);
* with ``compare_own_baseline``, the champion's own registered holdout PR-AUC.

``violations`` (K) violating windows among the first ``windows`` (M) roll the champion back
(:func:`finml.models.promotion.rollback`, a ``rollback_audit`` row naming the windows and
numbers) and raise a PERFORMANCE alert. M windows with fewer than K violations mark the
champion ``passed``. Either way the champion's ``finml.rollback_check`` tag records it, so
a check runs once per promotion: a rolled-back, restored or passed version, or one whose
promotion was not tagged by :mod:`finml.models.lifecycle`, is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from finml.log import get_logger
from finml.models.lifecycle import (
    CHECK_TAG,
    LIVE_FROM,
    PASSED,
    PENDING,
    registered_metric,
)
from finml.registry import ANOMALY_MODEL, CHAMPION, PREVIOUS, by_alias, model_name
from finml.registry.stages import tag_version

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.models.promotion import RollbackRecord
    from finml.models.settings import RollbackPolicy
    from finml.monitoring.alerts import AlertManager
    from finml.registry import VersionInfo
    from finml.runtime.delta import DeltaTables

log = get_logger("models.rollback_check")
MONITORING = "model_monitoring"


@dataclass(frozen=True)
class WindowCheck:
    start: datetime
    end: datetime
    pr_auc: float
    labelled: int
    violated: bool


@dataclass(frozen=True)
class RollbackCheck:
    """The outcome: ``status`` is rolled_back | passed | pending (too few windows yet) |
    skipped (nothing to check: no champion, already checked, untagged, no predecessor or
    no reference level)."""

    model_name: str
    status: str
    reason: str
    champion_version: int | None = None
    previous_version: int | None = None
    predecessor_level: float | None = None
    predecessor_source: str | None = None  # live | registration
    own_baseline: float | None = None
    windows: tuple[WindowCheck, ...] = field(default_factory=tuple)
    record: RollbackRecord | None = None

    @property
    def rolled_back(self) -> bool:
        return self.record is not None


def monitoring_windows(
    frame: pd.DataFrame, name: str, version: int, min_labelled: int
) -> pd.DataFrame:
    """One row per window (start, end, pr_auc, labelled) of ``version``, the latest
    computation of each window, labelled and with a defined PR-AUC; oldest first."""
    rows = frame[(frame["model_name"] == name) & (frame["model_version"] == str(version))]
    rows = rows.sort_values("_computed_at").drop_duplicates(["start"], keep="last")
    rows = rows[rows["pr_auc"].notna() & (rows["labelled_count"].fillna(0) >= min_labelled)]
    return rows.sort_values("start").reset_index(drop=True)


def _monitoring(tables: DeltaTables) -> pd.DataFrame | None:
    table = tables.table(MONITORING)
    if not table.exists():
        return None
    data = table.to_arrow().select(
        ["window", "model_name", "model_version", "pr_auc", "labelled_count", "_computed_at"]
    )
    frame = data.flatten().to_pandas()
    return frame.rename(columns={"window.start": "start", "window.end": "end"})


def check_rollback(
    config: ProjectConfig,
    tables: DeltaTables,
    *,
    policy: RollbackPolicy | None = None,
    name: str | None = None,
    alerts: AlertManager | None = None,
) -> RollbackCheck:
    """Check the current champion of ``name`` (default: the anomaly model) against
    ``policy`` (default: ``models.rollback``) and roll it back if it fails; idempotent.

    ``alerts`` defaults to an :class:`~finml.monitoring.alerts.AlertManager` on the
    ``monitoring.alerts`` settings writing to ``tables``.
    """
    from finml.models.settings import ModelSettings

    policy = policy or ModelSettings.from_config(config).rollback
    name = name or model_name(config, ANOMALY_MODEL)
    champion = by_alias(config, name, CHAMPION)
    if champion is None:
        return RollbackCheck(name, "skipped", "no champion")
    state = champion.tags.get(CHECK_TAG)
    common: dict[str, Any] = {"champion_version": champion.version}
    if state != PENDING:
        why = f"champion v{champion.version} rollback check is {state or 'not recorded'}"
        return RollbackCheck(name, "skipped", why, **common)
    previous = by_alias(config, name, PREVIOUS)
    if previous is None:
        return RollbackCheck(name, "skipped", "no previous champion to return to", **common)
    common["previous_version"] = previous.version
    own = registered_metric(champion.tags) if policy.compare_own_baseline else None
    level, source, windows = _predecessor_and_windows(tables, name, champion, previous, policy)
    common |= {"predecessor_level": level, "predecessor_source": source, "own_baseline": own}
    if level is None and own is None:
        return RollbackCheck(name, "skipped", "no reference PR-AUC to compare with", **common)
    checked = tuple(
        _judge(r, level, own, policy.margin) for r in windows.head(policy.windows).itertuples()
    )
    common["windows"] = checked
    violated = [w for w in checked if w.violated]
    if len(violated) >= policy.violations:
        reason = _reason(champion.version, previous.version, common, checked, policy)
        return _roll_back(config, tables, name, reason, common, alerts)
    if len(checked) >= policy.windows:
        tag_version(config, name, champion.version, {CHECK_TAG: PASSED})
        why = (
            f"{len(violated)} of its first {len(checked)} windows violated (< {policy.violations})"
        )
        log.info("rollback_check_passed", model=name, version=champion.version)
        return RollbackCheck(name, "passed", why, **common)
    why = f"{len(checked)} of {policy.windows} windows seen, {len(violated)} violated"
    return RollbackCheck(name, "pending", why, **common)


def _predecessor_and_windows(
    tables: DeltaTables,
    name: str,
    champion: VersionInfo,
    previous: VersionInfo,
    policy: RollbackPolicy,
) -> tuple[float | None, str, pd.DataFrame]:
    """The predecessor's PR-AUC level and its source (its live windows before the champion
    went live, else its registration metric), and the champion's live windows."""
    frame = _monitoring(tables)
    live_from = _parse(champion.tags.get(LIVE_FROM))
    level, source = registered_metric(previous.tags), "registration"
    windows = pd.DataFrame(columns=["start", "end", "pr_auc", "labelled_count"])
    if frame is not None:
        before = monitoring_windows(frame, name, previous.version, policy.min_labelled)
        if live_from is not None:
            before = before[before["start"] < live_from]
        if len(before):
            level, source = float(before["pr_auc"].tail(policy.windows).mean()), "live"
        windows = monitoring_windows(frame, name, champion.version, policy.min_labelled)
        if live_from is not None:
            windows = windows[windows["start"] >= live_from]
    return level, source, windows


def _judge(row: Any, level: float | None, own: float | None, margin: float) -> WindowCheck:
    pr_auc = float(row.pr_auc)
    violated = any(ref is not None and pr_auc < ref - margin for ref in (level, own))
    return WindowCheck(_utc(row.start), _utc(row.end), pr_auc, int(row.labelled_count), violated)


def _reason(
    champion: int,
    previous: int,
    common: dict[str, Any],
    windows: tuple[WindowCheck, ...],
    policy: RollbackPolicy,
) -> str:
    level, own = common["predecessor_level"], common["own_baseline"]
    refs = []
    if level is not None:
        refs.append(f"v{previous}'s {common['predecessor_source']} level {level:.4f}")
    if own is not None:
        refs.append(f"its own holdout baseline {own:.4f}")
    shown = ", ".join(
        f"{w.start:%Y-%m-%d %H:%M} PR-AUC {w.pr_auc:.4f}{' (violated)' if w.violated else ''}"
        for w in windows
    )
    bad = sum(w.violated for w in windows)
    return (
        f"automatic rollback of v{champion} to v{previous}: live PR-AUC more than "
        f"{policy.margin} below {' or '.join(refs)} in {bad} of its first {len(windows)} "
        f"windows (policy: {policy.violations} of {policy.windows}): {shown}"
    )


def _roll_back(
    config: ProjectConfig,
    tables: DeltaTables,
    name: str,
    reason: str,
    common: dict[str, Any],
    alerts: AlertManager | None,
) -> RollbackCheck:
    from finml.models.promotion import rollback
    from finml.monitoring.alerts import Alert, AlertManager
    from finml.monitoring.settings import MonitoringSettings
    from finml.vocabulary import AlertSeverity, AlertType

    record = rollback(config, tables, name, reason)
    manager = alerts or AlertManager(
        MonitoringSettings.from_config(config).alerts, tables, secrets=config.secrets
    )
    manager.send(
        Alert(
            AlertType.PERFORMANCE,
            AlertSeverity.HIGH,
            f"{name}: champion v{record.from_version} rolled back to v{record.to_version}",
            reason,
            source="rollback_check",
            details={
                "rollback_event_id": record.event_id,
                "from_version": record.from_version,
                "to_version": record.to_version,
                "windows": [
                    {"start": w.start.isoformat(), "pr_auc": w.pr_auc, "violated": w.violated}
                    for w in common["windows"]
                ],
            },
            dedup_key=f"rollback:{name}:{record.from_version}",
        )
    )
    log.warning("champion_rolled_back_automatically", model=name, reason=reason)
    return RollbackCheck(name, "rolled_back", reason, **common, record=record)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    ).to_pydatetime()


__all__ = ["RollbackCheck", "WindowCheck", "check_rollback", "monitoring_windows"]
