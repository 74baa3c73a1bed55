"""Settings of the regime model (config section ``regimes``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from finml.settings_base import StrictModel, section_settings, validate_section


class RegimeSettings(StrictModel):
    """How risk scores become regimes and how the Markov chain is estimated."""

    method: Literal["kmeans", "quantiles", "thresholds"] = "kmeans"
    quantiles: tuple[float, float] = (0.6, 0.9)
    thresholds: tuple[float, float] | None = None  # annualised vol, for method "thresholds"
    daily_window: int = Field(5, ge=1, le=260)  # days averaged for daily (not intraday) bars
    smoothing: float = Field(0.5, ge=0, le=100)
    bootstrap: int = Field(500, ge=10, le=100_000)
    ci_level: float = Field(0.95, gt=0, lt=1)
    forecast_steps: int = Field(5, ge=1, le=1000)
    seed: int = 0
    # The regime HMM (finml.regimes.hmm): staying pseudo-counts of its label matrix, the
    # pseudo-counts per transition of its forecast matrix, EM runs besides the label start.
    hmm_sticky: float = Field(50.0, ge=0, le=1_000_000)
    hmm_forecast_smoothing: float = Field(0.5, ge=0, le=1000)
    hmm_restarts: int = Field(6, ge=0, le=100)
    # The champion/challenger gate: the last ``heldout_fraction`` of trade dates (at least
    # ``heldout_min_days``) are kept out of the fit and score both models; the challenger is
    # promoted only if its held-out log-likelihood exceeds the champion's by more than
    # ``promotion_margin`` (nats, summed over the held-out transitions).
    heldout_fraction: float = Field(0.2, gt=0, lt=1)
    heldout_min_days: int = Field(3, ge=1, le=1000)
    promotion_margin: float = Field(0.0, ge=0)
    # Log the four studies (finml.regimes.experiments: baseline, absorbing, comparison,
    # sensitivity) beside each registered fit.
    experiments: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RegimeSettings:
        low, high = self.quantiles
        if not 0 < low < high < 1:
            raise ValueError(f"quantiles: expected 0 < low < high < 1, got {self.quantiles}")
        given = self.thresholds
        if self.method == "thresholds" and (given is None or not 0 < given[0] < given[1]):
            raise ValueError(
                f"thresholds: expected 0 < low < high with method 'thresholds', got {given}"
            )
        return self

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> RegimeSettings:
        """Validate the ``regimes`` config section (missing = defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, "regimes")


def regime_settings(config: Any) -> RegimeSettings:
    """The ``regimes`` section of ``config`` (the defaults when it has none).

    Raises:
        ConfigError: an unknown field or an invalid value, named.
    """
    return section_settings(config, "regimes", RegimeSettings)
