"""Settings of the training plane: the ``models`` section of ``project_config.yml``.

Every field has a default, so an absent section means "the fast default tournament".
Impossible values (0 folds, a confidence of 1.5, an unknown candidate) fail at construction.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from finml.settings_base import StrictModel, section_settings

DEFAULT_CANDIDATES = ("lightgbm", "xgboost", "random_forest", "isolation_forest", "ensemble")
METRICS = ("pr_auc", "roc_auc", "f1", "precision_at_k", "recall_at_fpr", "brier")
# what ``primary_metric`` may be: it ranks the tournament and the gate compares champion and
# challenger on it, by their scores' order alone (F1 would need each model's threshold)
RANKING_METRICS = ("pr_auc", "roc_auc", "precision_at_k", "recall_at_fpr")


class TuningSettings(StrictModel):
    """Optional Optuna search per candidate, bounded by trials and wall time."""

    enabled: bool = False
    trials: int = Field(10, ge=1, le=1000)
    timeout_seconds: float = Field(60.0, gt=0)
    candidates: tuple[str, ...] = ("lightgbm",)


class GateSettings(StrictModel):
    """Champion/challenger: the lower bound of the bootstrap CI of the primary-metric
    improvement must reach ``min_improvement`` (so noise cannot promote)."""

    min_improvement: float = Field(0.002, ge=0, le=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap: int = Field(500, ge=50, le=20_000)
    seed: int = 7


class ValidationSettings(StrictModel):
    """Pre-deployment checks (see :mod:`finml.models.validator`)."""

    floors: dict[str, float] = Field(default_factory=lambda: {"pr_auc": 0.5, "roc_auc": 0.75})
    golden_rows: int = Field(1000, ge=1)
    latency_one_row_ms: float = Field(250.0, gt=0)
    latency_batch_10k_ms: float = Field(3000.0, gt=0)
    max_ece: float = Field(0.1, gt=0, le=1)

    @field_validator("floors")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(METRICS))
        if unknown:
            raise ValueError(f"expected metric names from {METRICS}, got {unknown}")
        return value


class ReplayABSettings(StrictModel):
    """The replay A/B a holdout-approved challenger runs against the champion before it is
    promoted (see :mod:`finml.models.replay_ab`).

    The window is the latest ``days`` complete trading days of ``features_table`` that lie
    after the challenger's training window: a day is complete when at least
    ``min_label_coverage`` of its feature rows have a label in ``labels_table``. Trades are
    split between the arms by a stable hash of ``trade_id`` with ``challenger_percent``
    (None: the serving canary share ``serving.ab.challenger_percent``). With no such window,
    ``without_window`` decides: ``gate`` (the holdout gate alone decides) or ``reject``.
    """

    enabled: bool = True
    days: int = Field(1, ge=1, le=31)
    min_label_coverage: float = Field(0.95, gt=0, le=1)
    challenger_percent: float | None = Field(None, gt=0, lt=100)
    without_window: Literal["gate", "reject"] = "gate"
    features_table: str = "trade_features"
    labels_table: str = "trade_labels"


class RollbackPolicy(StrictModel):
    """Automatic rollback of a newly promoted champion (see :mod:`finml.models.rollback_check`):
    roll back when, in ``violations`` (K) of its first ``windows`` (M) labelled
    ``model_monitoring`` windows, its live PR-AUC is more than ``margin`` below its
    predecessor's level (or, with ``compare_own_baseline``, below its own holdout PR-AUC at
    registration). Windows with fewer than ``min_labelled`` labelled rows do not count."""

    windows: int = Field(2, ge=1, le=100)
    violations: int = Field(1, ge=1, le=100)
    margin: float = Field(0.05, ge=0, le=1)
    compare_own_baseline: bool = True
    min_labelled: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _k_of_m(self) -> RollbackPolicy:
        if self.violations > self.windows:
            raise ValueError(
                f"expected violations <= windows, got violations={self.violations} > "
                f"windows={self.windows}"
            )
        return self


class ModelSettings(StrictModel):
    """The ``models`` config section."""

    candidates: tuple[str, ...] = DEFAULT_CANDIDATES
    folds: int = Field(3, ge=2, le=20)
    seed: int = 42
    n_jobs: int = Field(2, ge=1)
    primary_metric: str = "pr_auc"
    precision_at_k: int = Field(100, ge=1)
    recall_at_fpr: float = Field(0.01, gt=0, lt=1)
    ewma_alpha: float = Field(0.5, gt=0, le=1)
    max_train_rows: int | None = Field(None, ge=100)
    # where the tournament's fits run: "local" in the job's process, n_jobs one-thread fits
    # at once (one after the other when n_jobs is 1), "spark" one Spark task per
    # (candidate, fold) fit and refit, each on n_jobs threads, so a cluster divides them
    fanout: Literal["local", "spark"] = "local"
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    replay_ab: ReplayABSettings = Field(default_factory=ReplayABSettings)
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in RANKING_METRICS:
            raise ValueError(
                f"expected a ranking metric (the tournament and the gate compare on it) "
                f"from {RANKING_METRICS}, got {value!r}"
            )
        return value

    @classmethod
    def from_config(cls, config: Any) -> ModelSettings:
        """Read ``config.models`` (a dict section) if the project config has one.

        Raises:
            ConfigError: the section has an unknown field or an invalid value.
        """
        return section_settings(config, "models", cls)
