"""ChampionChallenger: PROMOTE or REJECT a challenger on the champion's holdout, with evidence.

Both models score the *same* holdout rows. The primary-metric improvement is resampled with a
paired bootstrap (one set of row resamples, both models evaluated on each), and the challenger
is promoted only if the lower end of the confidence interval reaches ``min_improvement`` — a
lucky draw on a noisy holdout cannot promote. Without a champion a valid challenger is
promoted automatically; a challenger that failed validation is always rejected.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from finml.models.metrics import MetricSettings, RankedScores, ranking_metric
from finml.vocabulary import GateDecision

if TYPE_CHECKING:
    from finml.models.settings import GateSettings
    from finml.models.validator import ValidationReport


class _DecisionCommon(TypedDict):
    """The fields of a :class:`Decision` known before the champion is compared."""

    event_id: str
    decided_at: datetime
    model_name: str
    challenger_version: int
    champion_version: int | None
    metric: str
    challenger_metric: float
    min_improvement: float
    holdout_rows: int


@dataclass(frozen=True)
class Decision:
    event_id: str
    decided_at: datetime
    model_name: str
    challenger_version: int
    champion_version: int | None
    metric: str
    challenger_metric: float
    champion_metric: float | None
    improvement: float | None
    ci_low: float | None
    ci_high: float | None
    min_improvement: float
    holdout_rows: int
    decision: GateDecision
    reasons: tuple[str, ...]
    # set by finml.models.promotion: the holdout verdict when a replay A/B had the last
    # word (``decision`` is then the final one), and the id of that A/B's ab_tests row
    holdout_decision: GateDecision | None = None
    ab_test_id: str | None = None

    @property
    def promoted(self) -> bool:
        """Whether the aliases moved: ``champion`` is now ``challenger_version``."""
        return GateDecision(self.decision).moves_champion

    def audit_row(self) -> dict:
        row = asdict(self)
        row["challenger_version"] = str(self.challenger_version)
        row["champion_version"] = (
            None if self.champion_version is None else str(self.champion_version)
        )
        row["reasons"] = "; ".join(self.reasons)
        row["decision"] = str(self.decision)  # Arrow and Delta get plain strings
        if self.holdout_decision is not None:
            row["holdout_decision"] = str(self.holdout_decision)
        return row


def bootstrap_improvement(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    *,
    resamples: int,
    seed: int,
    metric: str = "pr_auc",
    metric_settings: MetricSettings | None = None,
) -> np.ndarray:
    """``metric``(challenger) - ``metric``(champion) on ``resamples`` paired bootstrap
    resamples (PR-AUC by resample weights on one ranking; the others on resampled rows)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    deltas = np.empty(resamples)
    if metric == "pr_auc":
        ranked_a, ranked_b = RankedScores(y, challenger), RankedScores(y, champion)
        for i in range(resamples):
            counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
            deltas[i] = ranked_a.average_precision(counts) - ranked_b.average_precision(counts)
    else:
        settings = metric_settings or MetricSettings()
        for i in range(resamples):
            rows = rng.integers(0, n, n)
            deltas[i] = ranking_metric(metric, y[rows], challenger[rows], settings) - (
                ranking_metric(metric, y[rows], champion[rows], settings)
            )
    return deltas[np.isfinite(deltas)]


class ChampionChallenger:
    """The promotion gate on ``metric`` (the tournament's ``primary_metric``; PR-AUC by
    default)."""

    def __init__(
        self,
        settings: GateSettings,
        metric: str = "pr_auc",
        metric_settings: MetricSettings | None = None,
    ) -> None:
        self.settings = settings
        self.metric = metric
        self.metric_settings = metric_settings or MetricSettings()

    def value(self, y: np.ndarray, scores: np.ndarray) -> float:
        """``metric`` of ``scores`` against ``y``."""
        return ranking_metric(self.metric, y, scores, self.metric_settings)

    def decide(
        self,
        y: np.ndarray,
        challenger_scores: np.ndarray,
        champion_scores: np.ndarray | None,
        *,
        model_name: str,
        challenger_version: int,
        champion_version: int | None = None,
        validation: ValidationReport | None = None,
    ) -> Decision:
        """PROMOTE or REJECT ``challenger_version`` (scores on the holdout rows ``y``)."""
        s = self.settings
        y = np.asarray(y, dtype=np.int64)
        challenger_metric = self.value(y, np.asarray(challenger_scores, dtype=np.float64))
        common: _DecisionCommon = {
            "event_id": str(uuid.uuid4()),
            "decided_at": datetime.now(UTC),
            "model_name": model_name,
            "challenger_version": challenger_version,
            "champion_version": champion_version,
            "metric": self.metric,
            "challenger_metric": challenger_metric,
            "min_improvement": s.min_improvement,
            "holdout_rows": len(y),
        }
        reasons: list[str] = []
        if validation is not None and not validation.passed:
            reasons = ["validation failed: " + "; ".join(validation.failures)]
        if champion_version is not None and champion_version == challenger_version:
            reasons.append(f"version {challenger_version} is already the champion")
        if champion_scores is None:
            if not reasons:
                reasons = ["no champion yet: auto-promote the validated challenger"]
            return Decision(
                **common, champion_metric=None, improvement=None, ci_low=None, ci_high=None,
                decision=(
                    GateDecision.REJECT
                    if validation is not None and not validation.passed
                    else GateDecision.PROMOTE
                ),
                reasons=tuple(reasons),
            )  # fmt: skip
        return self._compare(y, challenger_scores, champion_scores, common, reasons)

    def _compare(
        self,
        y: np.ndarray,
        challenger_scores: np.ndarray,
        champion_scores: np.ndarray,
        common: _DecisionCommon,
        reasons: list[str],
    ) -> Decision:
        """PROMOTE when the bootstrap CI's low end of the improvement over the champion
        reaches ``min_improvement`` and nothing else (``reasons``) rejects the challenger."""
        s = self.settings
        challenger_metric = common["challenger_metric"]
        challenger_scores = np.asarray(challenger_scores, dtype=np.float64)
        champion_scores = np.asarray(champion_scores, dtype=np.float64)
        champion_metric = self.value(y, champion_scores)
        deltas = bootstrap_improvement(
            y, challenger_scores, champion_scores, resamples=s.bootstrap, seed=s.seed,
            metric=self.metric, metric_settings=self.metric_settings,
        )  # fmt: skip
        tail = (1 - s.confidence) / 2 * 100
        low, high = (float(v) for v in np.percentile(deltas, [tail, 100 - tail]))
        improvement = challenger_metric - champion_metric
        shown = (
            f"{self.metric} {challenger_metric:.4f} vs champion {champion_metric:.4f}: "
            f"improvement {improvement:+.4f}, {s.confidence:.0%} CI [{low:+.4f}, {high:+.4f}]"
        )
        if low >= s.min_improvement and not reasons:
            decision, reasons = (
                GateDecision.PROMOTE,
                [f"{shown}; CI low >= min improvement {s.min_improvement}"],
            )
        else:
            decision = GateDecision.REJECT
            if low < s.min_improvement:
                reasons.append(
                    f"{shown}; expected CI low >= min improvement {s.min_improvement}, "
                    f"got {low:+.4f}"
                )
        return Decision(
            **common, champion_metric=champion_metric, improvement=improvement, ci_low=low,
            ci_high=high, decision=decision, reasons=tuple(reasons),
        )  # fmt: skip
