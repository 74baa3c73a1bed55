"""The collectors: config section and the job helpers' argument parsing."""

from __future__ import annotations

import pytest

from finml.config_collectors import collector_settings, with_overrides
from finml.errors import CollectorError, ConfigError
from finml.jobs.collect import parse_duration, settings_of
from finml.sources.alphavantage import checked_csv, json_to_csv


def test_defaults_are_production_endpoints_and_free_tier_limits() -> None:
    s = collector_settings(None)
    assert s.finnhub.url == "wss://ws.finnhub.io" and s.finnhub.max_reconnects is None
    assert s.alphavantage.base_url == "https://www.alphavantage.co/query"
    assert (s.alphavantage.requests_per_minute, s.alphavantage.requests_per_day) == (5, 25)


def test_section_is_validated_with_field_names() -> None:
    with pytest.raises(ConfigError, match=r"collectors\.finnhub\.flush_max_trades"):
        collector_settings({"finnhub": {"flush_max_trades": 0}})
    with pytest.raises(ConfigError, match=r"collectors\.alphavantage\.apikey"):
        collector_settings({"alphavantage": {"apikey": "x"}})
    with pytest.raises(ConfigError, match=r"collectors\.finnhub\.url"):
        collector_settings({"finnhub": {"url": "http://x"}})


def test_symbols_are_cleaned_and_checked() -> None:
    s = collector_settings({"finnhub": {"symbols": [" aapl", "AAPL", "brk.b"]}})
    assert s.finnhub.symbols == ["AAPL", "BRK.B"]
    with pytest.raises(ConfigError, match="symbols"):
        collector_settings({"finnhub": {"symbols": ["AAPL;DROP"]}})


def test_overrides_replace_fields_and_ignore_none() -> None:
    s = with_overrides(collector_settings(None), "finnhub", url="ws://127.0.0.1:1", symbols=None)
    assert s.finnhub.url == "ws://127.0.0.1:1" and s.finnhub.symbols == ["AAPL"]
    with pytest.raises(ConfigError, match="function"):
        with_overrides(s, "alphavantage", function="TIME_SERIES_WEEKLY")


def test_settings_of_a_config_without_the_section_are_the_defaults(config) -> None:
    assert settings_of(config) == collector_settings(None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300.0), ("90s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("12", 12.0), (3, 3.0)],
)
def test_parse_duration(text, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "-1m", "0s", "m5"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match=r"expected e\.g\. 30s, 5m, 1h"):
        parse_duration(text)


def test_json_series_becomes_newest_first_csv() -> None:
    body = {
        "Time Series (5min)": {
            "2024-01-02 09:35:00": {
                "1. open": "1",
                "2. high": "2",
                "3. low": "0.5",
                "4. close": "1.5",
                "5. volume": "10",
            },
            "2024-01-02 09:40:00": {
                "1. open": "1.5",
                "2. high": "2",
                "3. low": "1",
                "4. close": "2",
                "5. volume": "20",
            },
        }
    }
    assert json_to_csv(body, "AAPL").splitlines() == [
        "timestamp,open,high,low,close,volume",
        "2024-01-02 09:40:00,1.5,2,1,2,20",
        "2024-01-02 09:35:00,1,2,0.5,1.5,10",
    ]
    with pytest.raises(CollectorError, match="expected a 'Time Series"):
        json_to_csv({"Meta Data": {}}, "AAPL")
    with pytest.raises(CollectorError, match="bar 2024-01-02"):
        json_to_csv({"Time Series (Daily)": {"2024-01-02": {"1. open": "1"}}}, "AAPL")


def test_csv_is_normalised_and_its_header_checked() -> None:
    assert checked_csv(
        "timestamp,open,high,low,close,volume\r\n2024-01-02,1,2,0,1,5\r\n\r\n", "A"
    ) == ("timestamp,open,high,low,close,volume\n2024-01-02,1,2,0,1,5\n")
    with pytest.raises(CollectorError, match="got an empty body"):
        checked_csv("", "A")
