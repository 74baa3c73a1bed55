"""Settings of the data-quality rules (config section ``quality``): plausibility bounds.

Silver quarantines what no real market could have printed; these bounds say where
"implausible" starts. They are deliberately wide: a fat-finger print at 10x the price is a
real (anomalous) trade the models must see, not bad data, so the default price band is 25x.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from finml.settings_base import StrictModel, section_settings, validate_section

# Exchange tickers (AAPL, BRK.B), Finnhub's venue-qualified symbols (BINANCE:BTCUSDT,
# OANDA:EUR_USD) and index-style names (^GSPC); case is kept as sent.
DEFAULT_SYMBOL_PATTERN = r"^[A-Za-z0-9^][A-Za-z0-9.:_/=^-]{0,31}$"


def _default_targets() -> dict[Literal["bronze", "silver", "gold"], float]:
    return {"bronze": 0.85, "silver": 0.94, "gold": 0.98}


class QualitySettings(StrictModel):
    """Plausibility bounds of silver trades and bars (all quarantine with a named rule)."""

    symbol_pattern: str = DEFAULT_SYMBOL_PATTERN
    max_price: float = Field(1e9, gt=0)
    # A price must lie within [reference / band, reference * band], the reference being the
    # median of the symbol's last daily closes in gold, else of this batch's prices.
    price_band: float = Field(25.0, gt=1)
    band_reference_days: int = Field(5, ge=1, le=250)
    max_volume: float = Field(1e10, gt=0)
    earliest_date: date = date(1990, 1, 1)
    future_skew_minutes: int = Field(5, ge=0, le=24 * 60)
    # The quality score (mean of completeness, uniqueness, validity) each layer's batches
    # must reach; a miss raises a DATA_QUALITY alert, and with ``on_target_miss: block``
    # also stops the stages after it.
    targets: dict[Literal["bronze", "silver", "gold"], float] = Field(
        default_factory=_default_targets
    )
    on_target_miss: Literal["warn", "block"] = "warn"

    @field_validator("targets")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        for layer, target in value.items():
            if not 0.0 <= target <= 1.0:
                raise ValueError(f"{layer}: expected a score in [0, 1], got {target}")
        return value

    @field_validator("symbol_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"expected a regular expression, got {value!r} ({exc})") from None
        if "'" in value:
            raise ValueError(f"expected no quote character, got {value!r}")
        return value

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> QualitySettings:
        """Validate the ``quality`` section of the project config (missing = defaults).

        Raises:
            ConfigError: an unknown field or an invalid value, named.
        """
        return validate_section(cls, section, "quality")

    @classmethod
    def from_config(cls, config: Any) -> QualitySettings:
        return section_settings(config, "quality", cls)

    def sql_params(self) -> dict[str, str]:
        """The bounds as SQL literals, for the rule templates (:func:`expectations_for`)."""
        return {
            "symbol_pattern": "'" + self.symbol_pattern.replace("\\", "\\\\") + "'",
            "max_price": repr(float(self.max_price)),
            "price_band": repr(float(self.price_band)),
            "max_volume": repr(float(self.max_volume)),
            "earliest_date": f"DATE'{self.earliest_date.isoformat()}'",
            "future_skew_minutes": str(int(self.future_skew_minutes)),
        }
