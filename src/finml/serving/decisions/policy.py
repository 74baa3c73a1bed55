"""The decision policy: the ``decisions`` section of ``project_config.yml`` (typed, strict).

>>> DecisionPolicy.from_config(config).min_confidence  # doctest: +SKIP
0.6
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from finml.settings_base import StrictModel, section_settings, validate_section

SECTION = "decisions"


class RiskWeights(StrictModel):
    """How much each risk factor (each in [0, 1]) counts in the risk score."""

    heat: float = Field(0.25, ge=0)
    correlation: float = Field(0.15, ge=0)
    regime: float = Field(0.25, ge=0)
    drawdown: float = Field(0.2, ge=0)
    losses: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> RiskWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("risk_weights: expected at least one positive weight, got none")
        return self


class LatencyBudgets(StrictModel):
    """Per-stage latency budgets of a decision, in milliseconds (seed 002's: features
    < 50 ms, ML < 100 ms, risk and decision < 50 ms, < 200 ms in all), and the window over
    which the serving SLA check takes each stage's p99."""

    features: float = Field(50.0, gt=0)
    model: float = Field(100.0, gt=0)
    decision: float = Field(50.0, gt=0)
    total: float = Field(200.0, gt=0)
    window_seconds: float = Field(60.0, gt=0)
    min_samples: int = Field(20, ge=1)  # a window with fewer decisions is not judged

    def stages(self) -> dict[str, float]:
        return {"features": self.features, "model": self.model, "decision": self.decision,
                "total": self.total}  # fmt: skip


class DecisionPolicy(StrictModel):
    """Confidence filter, risk limits, exits and fractional-Kelly sizing.

    A trade flagged with anomaly probability ``p >= min_confidence`` is faded (a position
    against its last price move); ``p`` is the chance the fade wins and ``payoff_ratio`` the
    win/loss size ratio, so the Kelly fraction is ``p - (1 - p) / payoff_ratio``.
    """

    min_confidence: float = Field(0.6, ge=0, le=1)
    max_risk_score: float = Field(0.7, gt=0, le=1)
    risk_weights: RiskWeights = Field(default_factory=RiskWeights)
    payoff_ratio: float = Field(1.5, gt=0)
    kelly_fraction: float = Field(0.25, gt=0, le=1)
    max_position_fraction: float = Field(0.05, gt=0, le=1)  # notional / equity per position
    max_heat: float = Field(0.02, gt=0, le=1)  # open risk (notional x stop loss) / equity
    stop_loss: float = Field(0.01, gt=0, lt=1)  # adverse move (fraction) that exits
    take_profit: float = Field(0.015, gt=0)
    max_holding_seconds: float = Field(300.0, gt=0)
    max_drawdown: float = Field(0.1, gt=0, lt=1)  # reached: no new positions
    max_consecutive_losses: int = Field(5, ge=1)  # reached: no new positions for a while
    loss_cooldown_seconds: float = Field(3600.0, ge=0)  # that while (then the streak resets)
    crisis_exit_probability: float = Field(0.8, gt=0, le=1)  # next-day P(Crisis) that exits
    initial_equity: float = Field(1_000_000.0, gt=0)
    correlation_window: int = Field(100, ge=10)  # returns per symbol kept for correlations
    latency_budgets: LatencyBudgets = Field(default_factory=LatencyBudgets)

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> DecisionPolicy:
        """Validate the ``decisions`` section (missing = defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, SECTION)

    @classmethod
    def from_config(cls, config: Any) -> DecisionPolicy:
        """The policy in ``config.decisions`` (the defaults when it has none).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return section_settings(config, SECTION, cls)
