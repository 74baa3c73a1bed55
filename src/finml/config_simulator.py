"""Configuration of the market simulator, validated at construction."""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from finml.settings_base import StrictModel

RegimeName = Literal["Normal", "Stress", "Crisis"]
REGIMES: tuple[RegimeName, ...] = ("Normal", "Stress", "Crisis")
ANOMALY_TYPES = ("price_spike", "volume_burst", "fat_finger", "stale_print", "trade_burst")
BAD_RECORD_KINDS = (
    "malformed_json",
    "wrong_type",
    "nonpositive_price",
    "nan_inf",
    "missing_symbol",
    "duplicate_trade",
    "future_timestamp",
    "out_of_order",
)


class RegimeParams(StrictModel):
    """Per-regime dynamics: annualised drift and volatility, trade-intensity and volume
    multipliers, and the quoted spread in basis points."""

    drift: float
    volatility: float = Field(gt=0, le=5)
    intensity: float = Field(gt=0, le=20)
    volume: float = Field(gt=0, le=50)
    spread_bps: float = Field(ge=0, le=500)


class DriftScenario(StrictModel):
    """From trading day ``start_day`` (0-based) volatility and volume are scaled."""

    start_day: int = Field(ge=1)
    vol_multiplier: float = Field(2.0, gt=0, le=20)
    volume_multiplier: float = Field(1.5, gt=0, le=20)


class BadRecordRates(StrictModel):
    """Rate of each kind of bad landing record, as a fraction of legit trades."""

    malformed_json: float = Field(0.0005, ge=0, le=0.2)
    wrong_type: float = Field(0.0005, ge=0, le=0.2)
    nonpositive_price: float = Field(0.0005, ge=0, le=0.2)
    nan_inf: float = Field(0.0005, ge=0, le=0.2)
    missing_symbol: float = Field(0.0005, ge=0, le=0.2)
    duplicate_trade: float = Field(0.001, ge=0, le=0.2)
    future_timestamp: float = Field(0.0005, ge=0, le=0.2)
    out_of_order: float = Field(0.001, ge=0, le=0.2)


def _default_regimes() -> dict[RegimeName, RegimeParams]:
    return {
        "Normal": RegimeParams(
            drift=0.08, volatility=0.15, intensity=1.0, volume=1.0, spread_bps=2.0
        ),
        "Stress": RegimeParams(
            drift=-0.10, volatility=0.35, intensity=1.5, volume=1.4, spread_bps=6.0
        ),
        "Crisis": RegimeParams(
            drift=-0.60, volatility=0.75, intensity=2.5, volume=2.0, spread_bps=15.0
        ),
    }


class SimulatorConfig(StrictModel):
    """The simulated market. The defaults are the demo's scenario (~200k trades)."""

    seed: int = 42
    symbols: list[str] = Field(default_factory=lambda: ["AAPL", "MSFT", "NVDA", "JPM"])
    start_date: date = date(2024, 1, 8)
    days: int = Field(30, ge=1, le=2520)
    trades_per_day: int = Field(1000, ge=10, le=2_000_000)
    start_prices: dict[str, float] = Field(default_factory=dict)
    regimes: dict[RegimeName, RegimeParams] = Field(default_factory=_default_regimes)
    # Daily transition matrix of the hidden market regime (rows: from, columns: to).
    transition: list[list[float]] = Field(
        default_factory=lambda: [[0.93, 0.06, 0.01], [0.12, 0.80, 0.08], [0.05, 0.17, 0.78]]
    )
    initial_regime: RegimeName = "Normal"
    anomaly_rate: float = Field(0.01, ge=0, le=0.3)
    anomaly_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "price_spike": 0.3,
            "volume_burst": 0.25,
            "fat_finger": 0.15,
            "stale_print": 0.2,
            "trade_burst": 0.1,
        }
    )
    drift: DriftScenario | None = None
    bad_records: BadRecordRates = Field(default_factory=BadRecordRates)
    trades_per_message: int = Field(20, ge=1, le=10_000)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one symbol, got none")
        for symbol in value:
            if (
                not symbol.isascii()
                or not symbol.replace(".", "").isalnum()
                or symbol != symbol.upper()
            ):
                raise ValueError(f"expected upper-case tickers like 'AAPL', got {symbol!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"expected unique tickers, got {value}")
        return value

    @field_validator("start_prices")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not (v > 0 and np.isfinite(v))}
        if bad:
            raise ValueError(f"expected positive finite start prices, got {bad}")
        return value

    @field_validator("transition")
    @classmethod
    def _transition(cls, value: list[list[float]]) -> list[list[float]]:
        matrix = np.asarray(value, dtype=float)
        if matrix.shape != (3, 3):
            raise ValueError(f"expected a 3x3 matrix (Normal, Stress, Crisis), got {matrix.shape}")
        if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError(
                f"expected non-negative rows summing to 1, got row sums "
                f"{matrix.sum(axis=1).round(6).tolist()}"
            )
        return value

    @field_validator("anomaly_weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(ANOMALY_TYPES)
        if unknown:
            raise ValueError(f"expected anomaly types from {ANOMALY_TYPES}, got {sorted(unknown)}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("expected non-negative weights with a positive sum")
        return value

    @model_validator(mode="after")
    def _drift_inside(self) -> SimulatorConfig:
        if self.drift is not None and self.drift.start_day >= self.days:
            raise ValueError(
                f"drift.start_day: expected < days ({self.days}), got {self.drift.start_day}"
            )
        if set(self.regimes) != set(REGIMES):
            raise ValueError(f"regimes: expected exactly {REGIMES}, got {sorted(self.regimes)}")
        return self

    def start_price(self, symbol: str, index: int) -> float:
        return self.start_prices.get(symbol, 50.0 + 75.0 * index)
