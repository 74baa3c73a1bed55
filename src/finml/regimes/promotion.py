"""The regime model's champion/challenger gate, audited in ``regime_model_audit``.

Every fit is registered as ``challenger``. It becomes ``champion`` (the replaced champion
``previous-champion``, via :func:`finml.registry.stages.promote`) only when there is no
champion yet or its held-out next-regime log-likelihood beats the champion's on the *same*
held-out transitions by more than ``margin``; otherwise the champion stays and the challenger
is tagged with the rejection. Each decision is one audit row.

The champion's transition matrix is read back as plain JSON: the version tag
``finml.transition_matrix`` set at registration, else (versions registered before the tag
existed) ``transition_matrix`` of its run's ``analytics.json`` -- never by unpickling a model.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from finml.errors import DataError, ModelNotFound
from finml.log import get_logger
from finml.regimes.analytics import check_stochastic
from finml.regimes.heldout import HeldOut, log_likelihood
from finml.registry import CHAMPION, VersionInfo, by_alias, configure
from finml.registry.stages import promote, tag_version
from finml.vocabulary import GateDecision

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("regimes.promotion")

REGIME_MODEL_AUDIT = "regime_model_audit"
MATRIX_TAG, LOGLIK_TAG = "finml.transition_matrix", "finml.metric.heldout_loglik"
REGIME_AUDIT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("challenger_version", pa.string()),
        ("champion_version", pa.string()),
        ("challenger_loglik", pa.float64()),
        ("champion_loglik", pa.float64()),
        ("heldout_transitions", pa.int64()),
        ("margin", pa.float64()),
        ("decision", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class RegimeDecision:
    """One gate decision; ``champion_version`` is the champion it was compared with."""

    event_id: str
    decided_at: datetime
    model_name: str
    challenger_version: int
    champion_version: int | None
    challenger_loglik: float
    champion_loglik: float | None
    heldout_transitions: int
    margin: float
    decision: GateDecision
    reason: str

    @property
    def promoted(self) -> bool:
        return self.decision == GateDecision.PROMOTE

    @property
    def champion_after(self) -> int | None:
        """The version holding ``champion`` after the decision."""
        return self.challenger_version if self.promoted else self.champion_version

    def audit_row(self) -> dict[str, object]:
        row = asdict(self)
        row["challenger_version"] = str(self.challenger_version)
        row["champion_version"] = (
            None if self.champion_version is None else str(self.champion_version)
        )
        row["decision"] = str(self.decision)  # Arrow and Delta get plain strings
        return row


TIE_TOLERANCE = 1e-9


def decide(
    challenger: float, champion: float | None, margin: float, n: int
) -> tuple[GateDecision, str]:
    """PROMOTE without a champion or when ``challenger > champion + margin`` (log-likelihoods
    summed over the same ``n`` held-out transitions); else REJECT. Returns (decision, reason).

    Differences within :data:`TIE_TOLERANCE` (relative) are ties: the champion is scored from
    its matrix as stored in its version tags (12 significant digits), so a refit on the same
    data differs from it only by that rounding and must keep the champion."""
    if champion is None:
        return GateDecision.PROMOTE, "no champion yet: the first fit is promoted"
    versus = (
        f"held-out log-likelihood {challenger:.4f} vs champion {champion:.4f} over {n} "
        f"transitions (margin {margin:g})"
    )
    if challenger > champion + margin + TIE_TOLERANCE * max(1.0, abs(champion)):
        return GateDecision.PROMOTE, f"challenger beats the champion: {versus}"
    return GateDecision.REJECT, f"challenger does not beat the champion: {versus}"


def registration_tags(matrix: np.ndarray, heldout: HeldOut, loglik: float) -> dict[str, str]:
    """Version tags that let a later fit score this version without loading the model (the
    matrix to 12 significant digits: short enough for Unity Catalog's tag values)."""
    rows = [[float(f"{p:.12g}") for p in row] for row in np.asarray(matrix, dtype=float)]
    return {
        MATRIX_TAG: json.dumps(rows, separators=(",", ":")),
        LOGLIK_TAG: repr(float(loglik)),
        "finml.heldout_transitions": str(heldout.transitions),
        "finml.heldout_from": heldout.first_date.isoformat(),
    }


def version_matrix(version: VersionInfo) -> np.ndarray:
    """The transition matrix of a registered regime-model version (tag, else its run's
    ``analytics.json``).

    Raises:
        ModelNotFound: neither holds a matrix.
        DataError: the stored matrix is not row-stochastic.
    """
    if MATRIX_TAG in version.tags:
        data = json.loads(version.tags[MATRIX_TAG])
    else:
        data = _run_analytics(version).get("transition_matrix")
    if data is None:
        raise ModelNotFound(
            f"model {version.name} v{version.version}: expected tag {MATRIX_TAG} or "
            "analytics.json with transition_matrix in its run, found neither"
        )
    return check_stochastic(np.asarray(data, dtype=float), f"{version.name} v{version.version}")


def _run_analytics(version: VersionInfo) -> dict:
    import mlflow
    from mlflow.exceptions import MlflowException

    if version.run_id is None:
        return {}
    try:
        return mlflow.artifacts.load_dict(f"runs:/{version.run_id}/analytics.json")
    except (MlflowException, OSError, ValueError):
        return {}


def gate_regime_model(
    config: ProjectConfig,
    tables: DeltaTables,
    name: str,
    version: int,
    heldout: HeldOut,
    challenger_loglik: float,
    margin: float = 0.0,
) -> RegimeDecision:
    """Decide on ``version`` of ``name`` against the current champion on ``heldout``, append
    the decision to ``regime_model_audit``, tag the challenger with it and, on PROMOTE, move
    ``champion`` (the old one becomes ``previous-champion``).

    Raises:
        ModelNotFound: the champion's transition matrix cannot be read.
        DataError: the champion's matrix does not fit the held-out states.
    """
    configure(config)
    champion = by_alias(config, name, CHAMPION)
    champion_loglik = None
    if champion is not None:
        matrix = version_matrix(champion)
        try:
            champion_loglik = log_likelihood(matrix, heldout.origins, heldout.targets)
        except DataError as exc:
            raise DataError(f"model {name} champion v{champion.version}: {exc}") from exc
    verdict, reason = decide(challenger_loglik, champion_loglik, margin, heldout.transitions)
    decision = RegimeDecision(
        str(uuid.uuid4()), datetime.now(UTC), name, version,
        champion.version if champion is not None else None, challenger_loglik,
        champion_loglik, heldout.transitions, margin, verdict, reason,
    )  # fmt: skip
    data = pa.Table.from_pylist([decision.audit_row()], REGIME_AUDIT_SCHEMA)
    tables.table(REGIME_MODEL_AUDIT).append(data)
    tags = {"finml.gate_decision": str(verdict), "finml.gate_event": decision.event_id}
    tag_version(config, name, version, tags | {"finml.gate_reason": reason})
    if decision.promoted:
        promote(config, name, version)
    log.info("regime_gate_decided", model=name, version=version, decision=verdict, reason=reason)
    return decision
