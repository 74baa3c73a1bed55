"""``finml endpoint promote``: the challenger's traffic share shifted in steps to 100 %,
the A/B evidence checked at each step, then the aliases moved.

At each step the local endpoint (:mod:`finml.serving.endpoint`, the state a server started
with ``--traffic-from-endpoint`` splits by) gets the step's share, ``between_steps`` lets
traffic flow (a wait in production, rows written in a test), and the evidence is read from
``inference_log`` joined with the labels -- the same per-variant confusion and two-proportion
z-tests as ``finml ab-report`` (:func:`finml.serving.abtest.compare`), read with delta-rs,
without Spark, on the current champion's and challenger's rows only:

* the challenger significantly worse (``Comparison.challenger_worse``): its share goes back
  to 0 %, the promotion stops (``rollback``);
* fewer than ``min_requests`` challenger requests: it stops at that share (``hold``); run it
  again once traffic has flowed;
* at 100 %: the challenger becomes the champion through :func:`move_version` (audited in
  ``model_transitions`` and ``champion_challenger_audit``) and takes all the traffic.

Each step is one ``endpoint_traffic_audit`` row. On Databricks the same steps would call the
serving-endpoints API (``update_config`` of the traffic routes); that is not done or tested
here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.errors import DataError
from finml.log import get_logger

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.serving.abtest import Comparison
    from finml.serving.endpoint import EndpointState
    from finml.serving.settings import ServingSettings

log = get_logger("jobs.endpoint")
DEFAULT_STEPS = (10, 25, 50, 100)


@dataclass(frozen=True)
class Evidence:
    """The A/B evidence at one step: the comparison and the challenger's request count."""

    comparison: Comparison
    challenger_requests: int


@dataclass(frozen=True)
class Promotion:
    """What ``promote_endpoint`` did: ``promoted`` at 100 %, else why it stopped."""

    promoted: bool
    reason: str
    state: EndpointState
    audit: list[dict[str, Any]]


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """``steps`` as increasing percentages in (0, 100] ending at 100.

    Raises:
        DataError: they are not (naming what was given).
    """
    ok = bool(steps) and steps[-1] == 100 and all(0 < s <= 100 for s in steps)
    if not ok or any(b <= a for a, b in pairwise(steps)):
        raise DataError(f"--steps: expected increasing percentages ending at 100, got {steps}")
    return tuple(steps)


def ab_evidence(
    tables: DeltaTables, settings: ServingSettings, champion: str, challenger: str
) -> Evidence:
    """Compare the ``champion`` and ``challenger`` versions on their labelled
    ``inference_log`` rows (the latest row of a record per variant wins).

    Raises:
        TableNotFound: the log or the labels table does not exist.
    """
    from finml.serving.abtest import compare, confusion_of

    rs = settings.ab_report
    keys = ["trade_id"] if rs.join_on == "trade_id" else ["symbol", "ts"]
    log_rows = tables.require(settings.inference_log.table).to_arrow().to_pandas()
    labels = tables.require(rs.labels_table).to_arrow().to_pandas()[[*keys, rs.label_column]]
    arms = {}
    requests = 0
    for variant, version in (("champion", champion), ("challenger", challenger)):
        rows = log_rows[(log_rows["variant"] == variant) & (log_rows["model_version"] == version)]
        requests = len(rows) if variant == "challenger" else requests
        rows = rows.dropna(subset=keys).sort_values("logged_at").drop_duplicates(keys, keep="last")
        joined = rows.merge(labels.drop_duplicates(keys, keep="last"), on=keys)
        arms[variant] = confusion_of(
            variant, version, joined[rs.label_column], joined["prediction"]
        )
    comparison = compare(arms["champion"], arms["challenger"], rs.metric, rs.alpha, rs.min_samples)
    return Evidence(comparison, requests)


def promote_endpoint(
    config: ProjectConfig,
    tables: DeltaTables,
    settings: ServingSettings,
    *,
    steps: Sequence[int] = DEFAULT_STEPS,
    min_requests: int = 100,
    between_steps: Callable[[int], None] = lambda percent: None,
) -> Promotion:
    """Shift the challenger's share through ``steps`` (see the module doc).

    Raises:
        DataError: bad ``steps``, or no champion or no challenger to promote.
        TableNotFound: no ``inference_log`` or labels table.
    """
    from finml.serving.endpoint import save_state

    steps = check_steps(steps)
    state = _start_state(config)
    promotion_id, audit = uuid.uuid4().hex, []
    for number, percent in enumerate(steps, start=1):
        state = save_state(config.home, state.model_copy(update={"challenger_percent": percent}))
        between_steps(percent)
        evidence = ab_evidence(tables, settings, state.champion_version, state.challenger_version)
        action, reason = _judge(evidence, min_requests, percent)
        shown = state  # the split this step's row records
        if action == "rollback":
            state = save_state(config.home, state.model_copy(update={"challenger_percent": 0}))
            shown = state
        elif action == "shift" and percent == 100:
            action = "promote"
            reason, state = _promote(config, tables, state, evidence)
        audit.append(_audit_row(promotion_id, number, shown, action, evidence, reason))
        _append(tables, audit[-1])
        log.info("endpoint_step", percent=percent, action=action, reason=reason)
        if action in ("rollback", "hold"):
            return Promotion(False, reason, state, audit)
    return Promotion(True, reason, state, audit)


def _start_state(config: ProjectConfig) -> EndpointState:
    from finml.registry import ANOMALY_MODEL, CHALLENGER, CHAMPION, by_alias, model_name
    from finml.serving.endpoint import EndpointState, load_state

    name = model_name(config, ANOMALY_MODEL)
    champion, challenger = by_alias(config, name, CHAMPION), by_alias(config, name, CHALLENGER)
    if champion is None or challenger is None or champion.version == challenger.version:
        raise DataError(
            f"model {name}: expected a @champion and a different @challenger to promote, got "
            f"champion {champion and champion.version}, "
            f"challenger {challenger and challenger.version}"
        )
    state = load_state(config.home) or EndpointState()
    return state.model_copy(
        update={
            "champion_version": str(champion.version),
            "challenger_version": str(challenger.version),
        }
    )


def _judge(evidence: Evidence, min_requests: int, percent: int) -> tuple[str, str]:
    result = evidence.comparison
    if result.challenger_worse:
        return "rollback", f"at {percent} %: challenger significantly worse ({result.reason})"
    if evidence.challenger_requests < min_requests:
        return "hold", (
            f"at {percent} %: expected >= {min_requests} challenger requests, "
            f"got {evidence.challenger_requests} (run it again once traffic has flowed)"
        )
    return "shift", f"at {percent} %: challenger not worse ({result.reason})"


def _promote(
    config: ProjectConfig, tables: DeltaTables, state: EndpointState, evidence: Evidence
) -> tuple[str, EndpointState]:
    """Move the aliases (challenger -> champion) and give the new champion all traffic."""
    from finml.jobs.transitions import move_version
    from finml.serving.endpoint import save_state

    version = int(state.challenger_version)
    reason = f"endpoint promote: 100 % of traffic, {evidence.comparison.reason}"
    move_version(config, tables, version, "champion", reason=reason, force=True, actor="endpoint")
    promoted = state.model_copy(update={"champion_version": str(version), "challenger_percent": 0})
    return f"promoted version {version} to champion ({reason})", save_state(config.home, promoted)


def _audit_row(
    promotion_id: str,
    step: int,
    state: EndpointState,
    action: str,
    evidence: Evidence,
    reason: str,
) -> dict[str, Any]:
    result = evidence.comparison
    return {
        "promotion_id": promotion_id,
        "step": step,
        "at": datetime.now(UTC),
        "endpoint": state.name,
        "champion_version": state.champion_version,
        "challenger_version": state.challenger_version,
        "challenger_percent": state.challenger_percent,
        "action": action,
        "champion_n": result.champion.n,
        "challenger_n": result.challenger.n,
        "challenger_requests": evidence.challenger_requests,
        "ab_decision": str(result.decision),
        "reason": reason,
    }


def _append(tables: DeltaTables, row: dict[str, Any]) -> None:
    from finml.serving.endpoint import AUDIT_SCHEMA, AUDIT_TABLE

    tables.table(AUDIT_TABLE).append(pa.Table.from_pylist([row], schema=AUDIT_SCHEMA))
