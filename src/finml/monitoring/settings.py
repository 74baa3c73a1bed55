"""Monitoring settings (config section ``monitoring``), validated at construction.

>>> MonitoringSettings.model_validate({"drift": {"bins": 20}}).drift.bins
20
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from finml.monitoring.channel_settings import AlertChannel, Escalation
from finml.settings_base import StrictModel, section_settings, validate_model
from finml.vocabulary import DriftSeverity

if TYPE_CHECKING:
    from finml.config import ProjectConfig

SECTION = "monitoring"


class DriftThresholds(StrictModel):
    """Severity cut-offs: at or above ``*_medium`` is MEDIUM, at or above ``*_high`` HIGH.

    PSI 0.1 / 0.25 are the credit-scoring conventions; JS distance (base 2, in [0, 1]) and
    normalised Wasserstein get comparable defaults. KS p-values are reported, not gated:
    with thousands of rows every real-world difference is "significant".
    """

    psi_medium: float = Field(0.1, gt=0)
    psi_high: float = Field(0.25, gt=0)
    js_medium: float = Field(0.1, gt=0, le=1)
    js_high: float = Field(0.2, gt=0, le=1)
    wasserstein_medium: float = Field(0.1, gt=0)
    wasserstein_high: float = Field(0.3, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        for name in ("psi", "js", "wasserstein"):
            medium, high = getattr(self, f"{name}_medium"), getattr(self, f"{name}_high")
            if high < medium:
                raise ValueError(f"{name}_high: expected >= {name}_medium ({medium}), got {high}")
        return self


class DriftSettings(StrictModel):
    """How distributions are binned and compared."""

    bins: int = Field(10, ge=2, le=1000)
    binning: Literal["quantile", "evidently"] = "quantile"
    epsilon: float = Field(1e-4, gt=0, lt=0.01)
    spark_fine_bins: int = Field(100, ge=10, le=10_000)
    spark_relative_error: float = Field(1e-3, gt=0, lt=0.1)
    gate_metrics: tuple[Literal["psi", "js", "wasserstein"], ...] = ("psi", "js")
    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)


class TriggerPolicy(StrictModel):
    """When a violation becomes a retrain: N of the last M windows, cooldown, daily cap."""

    violations_needed: int = Field(2, ge=1)
    window_count: int = Field(3, ge=1)
    cooldown_hours: float = Field(6.0, ge=0)
    max_per_day: int = Field(2, ge=1)
    min_new_samples: int = Field(1000, ge=0)
    min_drift_severity: DriftSeverity = DriftSeverity.HIGH  # MEDIUM or HIGH
    # A window drifted when at least this share of its columns (features and the score) is
    # at min_drift_severity or worse: dataset drift, as Evidently's drift_share (0.5).
    min_drift_share: float = Field(0.5, gt=0, le=1)
    max_metric_drop: float = Field(0.05, ge=0, le=1)
    # A window's metric is judged only with at least this many labelled positives.
    min_window_positives: int = Field(30, ge=0)
    min_quality_score: float = Field(0.95, ge=0, le=1)
    schedule_hours: float | None = Field(None, gt=0)
    # Without a champion, a first model is trained once labels cover this many trading days.
    bootstrap_days: int = Field(5, ge=2)

    @field_validator("min_drift_severity", mode="before")
    @classmethod
    def _a_drift(cls, value: Any) -> Any:
        # NONE is a severity but no threshold: every window would count as drifted.
        if value not in (DriftSeverity.MEDIUM, DriftSeverity.HIGH):
            raise ValueError(f"expected 'MEDIUM' or 'HIGH', got {value!r}")
        return value

    @model_validator(mode="after")
    def _n_of_m(self) -> TriggerPolicy:
        if self.violations_needed > self.window_count:
            raise ValueError(
                f"violations_needed: expected <= window_count ({self.window_count}), "
                f"got {self.violations_needed}"
            )
        return self


class RetrainAction(StrictModel):
    """What a trigger runs: a local command, a bundle job run by the local job runner in
    the trigger's own process (``job``: no process or JVM start; locally only), or a
    Databricks job by id."""

    kind: Literal["local", "job", "databricks"] = "local"
    command: list[str] = Field(
        default_factory=lambda: [
            "finml",
            "job",
            "run",
            "retraining_workflow",
            "--target",
            "local",
        ]
    )
    timeout_seconds: float = Field(3600, gt=0)
    job_id: int | None = Field(None, ge=1)
    job: str = Field("retraining_workflow", min_length=1)  # kind 'job': the bundle's job key

    @model_validator(mode="after")
    def _complete(self) -> RetrainAction:
        if self.kind == "databricks" and self.job_id is None:
            raise ValueError("job_id: expected a Databricks job id for kind 'databricks', got none")
        if self.kind == "local" and not self.command:
            raise ValueError("command: expected a non-empty command for kind 'local', got []")
        return self


class AlertSettings(StrictModel):
    """Delivery (JSON ``webhooks`` by URL, named ``channels``), deduplication, escalation.

    A channel named in ``escalation.channels`` receives escalated sends only; every other
    channel, and every URL of ``webhooks``, receives every alert.
    """

    webhooks: list[str] = Field(default_factory=list)
    channels: list[AlertChannel] = Field(default_factory=list)
    escalation: Escalation | None = None
    dedup_minutes: float = Field(30.0, ge=0)
    max_attempts: int = Field(4, ge=1, le=20)
    backoff_seconds: float = Field(0.5, ge=0)
    backoff_factor: float = Field(2.0, ge=1)
    timeout_seconds: float = Field(5.0, gt=0)
    signature_header: str = "X-FinML-Signature"

    @model_validator(mode="after")
    def _channels_named_once(self) -> AlertSettings:
        names = [c.name for c in self.channels]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"channels: expected unique names, got {twice} more than once")
        unknown = [
            n for n in (self.escalation.channels if self.escalation else []) if n not in names
        ]
        if unknown:
            raise ValueError(
                f"escalation.channels: expected names of channels ({names}), got {unknown}"
            )
        return self


class WatchSettings(StrictModel):
    """Live anomaly watch: return z-score and regime-transition probability gates."""

    zscore: float = Field(6.0, gt=0)
    lookback: int = Field(500, ge=20)
    min_transition_probability: float = Field(0.02, gt=0, lt=1)


class MonitoringSettings(StrictModel):
    """The ``monitoring`` section of ``project_config.yml``."""

    drift: DriftSettings = Field(default_factory=DriftSettings)
    policy: TriggerPolicy = Field(default_factory=TriggerPolicy)
    action: RetrainAction = Field(default_factory=RetrainAction)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)

    @classmethod
    def from_config(cls, config: ProjectConfig) -> MonitoringSettings:
        """Settings from ``config.monitoring`` (the defaults when it has none).

        Raises:
            ConfigError: the section has an unknown or invalid field.
        """
        return section_settings(config, SECTION, cls)

    @classmethod
    def from_dict(
        cls, section: dict[str, Any], where: str = f"config section {SECTION!r}"
    ) -> MonitoringSettings:
        """Settings from a ``monitoring`` mapping read from ``where``.

        Raises:
            ConfigError: naming every unknown or invalid field.
        """
        return validate_model(cls, section, where, prefix=SECTION)
