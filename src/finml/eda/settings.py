"""Settings of the exploratory data analysis (config section ``eda``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from finml.settings_base import StrictModel, section_settings, validate_section


class EdaSettings(StrictModel):
    """What ``finml eda`` profiles and how finely."""

    # quantiles of every numeric column (percentile_approx with ``quantile_accuracy``)
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    quantile_accuracy: int = Field(10_000, ge=100, le=10_000_000)
    # approx_count_distinct's relative error (HyperLogLog++: 0.01 is ~20x slower than 0.05)
    distinct_rsd: float = Field(0.05, gt=0, le=0.3)
    histogram_bins: int = Field(20, ge=2, le=500)
    iqr_factor: float = Field(1.5, gt=0)  # Tukey fences: outside [q1 - k*IQR, q3 + k*IQR]
    zscore: float = Field(3.0, gt=0)  # |x - mean| / std above this is an outlier
    missing_patterns: int = Field(10, ge=1, le=1000)  # most frequent co-missing patterns kept
    # Pearson and Spearman correlations use a uniform sample of at most this many complete
    # rows (all of them in a smaller table)
    correlation_rows: int = Field(200_000, ge=100, le=10_000_000)
    # per symbol, the latest 1-minute bars the stationarity tests and the trend use
    series_points: int = Field(5_000, ge=30, le=1_000_000)
    # ADF picks its lag by AIC over 0..adf_max_lag (statsmodels' default, Schwert's rule, is
    # 31 lags at 5,000 points: 270 regressions, 33 of the 37 s of a 4-symbol demo profile)
    adf_max_lag: int = Field(12, ge=0, le=1_000)
    # a table of at most this many cells (rows x columns) is profiled on the driver from its
    # Arrow rows (numpy, exact quantiles and distinct counts): a Spark pass costs seconds
    # whatever its size; 0: always the Spark passes
    driver_cells: int = Field(50_000_000, ge=0)
    # tables profiled (every medallion table and the feature store by default; a missing
    # table is skipped)
    tables: tuple[str, ...] | None = None

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 < q < 1 for q in value) or list(value) != sorted(set(value)):
            raise ValueError(f"expected increasing values strictly between 0 and 1, got {value}")
        if 0.25 not in value or 0.75 not in value:
            raise ValueError(f"expected 0.25 and 0.75 among them (the IQR), got {value}")
        return value

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> EdaSettings:
        """Validate the ``eda`` config section (missing = defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, "eda")

    @classmethod
    def from_config(cls, config: Any) -> EdaSettings:
        """The ``eda`` section of ``config`` (the defaults when it has none).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return section_settings(config, "eda", cls)
