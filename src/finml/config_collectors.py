"""Settings of the live collectors, read from the ``collectors:`` section of the project config.

```yaml
collectors:
  finnhub:
    url: wss://ws.finnhub.io          # tests: ws://127.0.0.1:<port>
    symbols: [AAPL, MSFT]
    flush_max_trades: 5000            # flush when the buffer holds this many trades ...
    flush_interval_s: 5.0             # ... or when the oldest buffered trade is this old
    backoff_base_s: 1.0               # reconnect waits: base * 2^attempt, full jitter, capped
    backoff_max_s: 60.0
    duration_s: 300                   # run length of the bundle task (run_collector)
  alphavantage:
    base_url: https://www.alphavantage.co/query
    symbols: [AAPL]
    requests_per_minute: 5
    requests_per_day: 25
```

API keys are never part of these settings: they come from ``FINNHUB_API_KEY`` and
``ALPHAVANTAGE_API_KEY`` (:func:`finml.config.secret`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from finml.settings_base import StrictModel, validate_section

SYMBOL_PATTERN = r"^[A-Z0-9.\-:]{1,32}$"


def _symbols(values: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(v.strip().upper() for v in values if v.strip()))
    bad = [v for v in cleaned if not re.fullmatch(SYMBOL_PATTERN, v)]
    if bad or not cleaned:
        shown = bad or values
        raise ValueError(f"1+ tickers of A-Z 0-9 . - : (max 32 characters), got {shown}")
    return cleaned


class FinnhubSettings(StrictModel):
    """The Finnhub WebSocket trade collector."""

    url: str = Field("wss://ws.finnhub.io", pattern=r"^wss?://")
    symbols: list[str] = Field(default_factory=lambda: ["AAPL"])
    flush_max_trades: int = Field(5000, ge=1, le=10_000_000)
    flush_interval_s: float = Field(5.0, gt=0, le=3600)
    backoff_base_s: float = Field(1.0, gt=0, le=600)
    backoff_max_s: float = Field(60.0, gt=0, le=3600)
    duration_s: float = Field(300.0, gt=0)  # how long a bundle task (run_collector) collects
    max_reconnects: int | None = Field(None, ge=0)  # None: keep trying until the run ends
    open_timeout_s: float = Field(10.0, gt=0, le=600)
    max_message_bytes: int = Field(1_048_576, ge=1024)

    @field_validator("symbols")
    @classmethod
    def _clean_symbols(cls, value: list[str]) -> list[str]:
        return _symbols(value)


class AlphaVantageSettings(StrictModel):
    """The Alpha Vantage REST OHLCV collector."""

    base_url: str = Field("https://www.alphavantage.co/query", pattern=r"^https?://")
    symbols: list[str] = Field(default_factory=lambda: ["AAPL"])
    function: Literal["TIME_SERIES_DAILY", "TIME_SERIES_INTRADAY"] = "TIME_SERIES_DAILY"
    interval: Literal["1min", "5min", "15min", "30min", "60min"] = "5min"
    outputsize: Literal["compact", "full"] = "compact"
    datatype: Literal["json", "csv"] = "csv"
    requests_per_minute: int = Field(5, ge=1)
    requests_per_day: int = Field(25, ge=1)
    max_retries: int = Field(5, ge=0, le=100)
    backoff_base_s: float = Field(2.0, gt=0, le=600)
    backoff_max_s: float = Field(120.0, gt=0, le=3600)
    throttle_wait_s: float = Field(60.0, ge=0, le=3600)  # extra wait after a "Note" body
    timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("symbols")
    @classmethod
    def _clean_symbols(cls, value: list[str]) -> list[str]:
        return _symbols(value)


class CollectorSettings(StrictModel):
    """The ``collectors:`` section: one block per source."""

    finnhub: FinnhubSettings = Field(default_factory=lambda: FinnhubSettings.model_validate({}))
    alphavantage: AlphaVantageSettings = Field(
        default_factory=lambda: AlphaVantageSettings.model_validate({})
    )


def collector_settings(section: Any = None) -> CollectorSettings:
    """Validate a ``collectors:`` section (a mapping, a model or None for the defaults).

    Raises:
        ConfigError: a field is unknown or has an invalid value (named in the message).
    """
    return validate_section(CollectorSettings, section, "collectors")


def with_overrides(settings: CollectorSettings, source: str, **values: Any) -> CollectorSettings:
    """``settings`` with fields of ``source`` (finnhub|alphavantage) replaced (None ignored).

    Raises:
        ConfigError: an override is invalid.
    """
    data = settings.model_dump()
    data[source].update({k: v for k, v in values.items() if v is not None})
    return collector_settings(data)
