"""Serving settings: the ``serving`` section of ``project_config.yml``.

Validated at construction (``extra="forbid"``), so a bad split or a zero flush interval
fails before a server or Spark starts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from finml.settings_base import StrictModel, section_settings, validate_section

SECTION = "serving"


class ABSettings(StrictModel):
    """Champion/challenger routing.

    ``off``: the champion answers everything. ``split``: ``challenger_percent`` of entities
    (sticky by a hash of the symbol) are answered by the challenger. ``shadow``: the champion
    answers, the challenger scores the same records off the answer path.
    """

    mode: Literal["off", "split", "shadow"] = "off"
    challenger_percent: float = Field(5.0, ge=0.0, le=100.0)

    @field_validator("mode", mode="before")
    @classmethod
    def _bare_off(cls, value: Any) -> Any:
        """YAML 1.1 (PyYAML) reads an unquoted ``mode: off`` as ``False``."""
        return "off" if value is False else value


class InferenceLogSettings(StrictModel):
    """The buffered writer of ``inference_log``: flush every ``flush_rows`` rows or
    ``flush_seconds`` seconds, whichever comes first."""

    table: str = "inference_log"
    flush_rows: int = Field(2_000, ge=1)
    flush_seconds: float = Field(2.0, gt=0.0, le=3_600.0)
    max_queue: int = Field(200_000, ge=1)
    log_inputs: bool = True  # False: only the hash of the inputs is stored


class ABReportSettings(StrictModel):
    """How ``finml ab-report`` joins labels and decides."""

    labels_table: str = "test_set"
    label_column: str = "label"
    join_on: Literal["trade_id", "symbol_ts"] = "trade_id"
    metric: Literal["precision", "recall"] = "recall"
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    min_samples: int = Field(30, ge=1)
    table: str = "ab_tests"


class ServingSettings(StrictModel):
    """Settings of ``finml serve`` / ``finml score`` / ``finml ab-report``."""

    model: str = "anomaly_model"  # short name; registered as <catalog>.<schema>.<model>
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65_535)
    poll_seconds: float = Field(10.0, ge=0.1)  # how often the aliases are re-checked
    max_batch: int = Field(10_000, ge=1)
    # Request bodies larger than this get 413 while they are read, before any parsing.
    # 10k records of the demo champion's 22 features are ~6.5 MiB of JSON (~7.4 MiB with
    # symbol, ts and trade_id); raise it with max_batch.
    max_body_bytes: int = Field(16 * 2**20, ge=1_024)
    # The widest number a feature may hold: float32 (scikit-learn's and XGBoost's trees compute
    # in float32 and fail on larger values) or float64. A float/integer/long signature column
    # narrows it further. Beyond it, or not finite: 422 naming the field.
    feature_dtype: Literal["float32", "float64"] = "float32"
    ab: ABSettings = Field(default_factory=ABSettings)
    inference_log: InferenceLogSettings = Field(default_factory=InferenceLogSettings)
    ab_report: ABReportSettings = Field(default_factory=ABReportSettings)
    predictions_table: str = "predictions"
    score_method: Literal["auto", "driver", "map_in_pandas", "spark_udf"] = "auto"

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> ServingSettings:
        """Validate the ``serving`` section (a dict; None means all defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, SECTION)

    @classmethod
    def from_config(cls, config: Any) -> ServingSettings:
        """The settings in ``config.serving`` (the defaults when it has none).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return section_settings(config, SECTION, cls)
