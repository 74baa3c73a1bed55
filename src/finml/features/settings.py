"""Settings of the feature build and the feature store (config section ``features``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from finml.settings_base import StrictModel, section_settings, validate_section


class FeatureSettings(StrictModel):
    """Window lengths of the trade-sequence indicators, the label rule and the split.

    Every window counts trades ("tick bars"), not minutes, except ``trades_1s`` /
    ``trades_60s`` which count trades in the last 1 and 60 seconds.
    """

    vol_windows: tuple[int, ...] = (5, 10, 20, 50)
    rsi_period: int = Field(14, ge=2, le=500)
    macd_fast: int = Field(12, ge=2, le=500)
    macd_slow: int = Field(26, ge=3, le=1000)
    macd_signal: int = Field(9, ge=2, le=500)
    # A span-s EMA is taken over the last ``ema_horizon * s`` trades (weights beyond are
    # < e^-6 of the newest): a bounded window keeps it a pure, reproducible window function.
    ema_horizon: int = Field(3, ge=1, le=10)
    bollinger_period: int = Field(20, ge=2, le=500)
    bollinger_width: float = Field(2.0, gt=0, le=10)
    zscore_window: int = Field(50, ge=3, le=5000)
    range_window: int = Field(20, ge=2, le=5000)
    stale_lookback: int = Field(500, ge=1, le=100_000)
    # Label rule used only when no simulator ground truth exists: |z| above this.
    label_rule_z: float = Field(6.0, gt=0, le=100)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    # Train/test sets from the latest N trading days of labelled features (None: all), so
    # a retrain after a market shift learns the market as it is now.
    training_days: int | None = Field(None, ge=2, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSettings:
        if not self.vol_windows or any(w < 2 or w > 5000 for w in self.vol_windows):
            raise ValueError(f"vol_windows: expected 2..5000 trades each, got {self.vol_windows}")
        if self.macd_fast >= self.macd_slow:
            raise ValueError(
                f"macd_fast: expected < macd_slow ({self.macd_slow}), got {self.macd_fast}"
            )
        return self

    @property
    def lookback_rows(self) -> int:
        """How many earlier trades of its symbol a trade's features depend on at most
        (the longest window, or the two chained truncated EMAs of MACD): an incremental
        build that sees this many trades before the first new one computes them exactly."""
        return max(self.window_rows, self.stale_lookback + 1)

    @property
    def window_rows(self) -> int:
        """Like :attr:`lookback_rows` for every feature but ``stale_repeat`` (a membership
        test over ``stale_lookback`` prices) and the time-based trade counts."""
        windows = (
            max(self.vol_windows) + 1,
            self.rsi_period + 1,
            self.bollinger_period,
            self.zscore_window + 1,
            self.range_window + 1,
            self.ema_horizon * (self.macd_slow + self.macd_signal),
        )
        return max(windows) + 1

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> FeatureSettings:
        """Validate the ``features`` section of the project config (missing = defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, "features")


def feature_settings(config: Any) -> FeatureSettings:
    """The ``features`` section of ``config`` (the defaults when it has none).

    Raises:
        ConfigError: an unknown field or an invalid value, named.
    """
    return section_settings(config, "features", FeatureSettings)
