"""The job API a bundle task calls: run_collector / collect_* against loopback servers."""

from __future__ import annotations

import pytest
from collector_servers import AlphaVantageServer, FinnhubServer, trade_message

from finml.config_collectors import collector_settings
from finml.errors import CollectorError, ConfigError
from finml.jobs.collect import collect_finnhub, run_collector


@pytest.fixture(autouse=True)
def keys(monkeypatch) -> None:
    monkeypatch.setenv("FINNHUB_API_KEY", "fh-job-key")
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "av-job-key")


def fast(**section: dict) -> object:
    base = {
        "finnhub": {"backoff_base_s": 0.05, "backoff_max_s": 0.1, "duration_s": 0.8},
        "alphavantage": {"backoff_base_s": 0.01, "backoff_max_s": 0.02, "throttle_wait_s": 0},
    }
    for source, values in section.items():
        base[source].update(values)
    return collector_settings(base)


def test_run_collector_finnhub_uses_the_configured_duration(config) -> None:
    script = [("send", trade_message("AAPL", 1_000, 4))]
    with FinnhubServer([script]) as server:
        run = run_collector(config, "finnhub", settings=fast(finnhub={"url": server.url}))
    assert (run.source, run.records, run.files, run.rejected) == ("finnhub", 4, 1, 0)


def test_run_collector_alphavantage_fails_the_task_when_a_symbol_fails(config) -> None:
    with AlphaVantageServer({"BAD": ["error"]}) as server:
        section = {"base_url": server.url, "symbols": ["AAPL", "MSFT"]}
        run = run_collector(config, "alphavantage", settings=fast(alphavantage=section))
        assert (run.records, run.files) == (6, 2)
        section["symbols"] = ["BAD", "IBM"]
        with pytest.raises(CollectorError, match="BAD: alphavantage BAD: API error: Invalid"):
            run_collector(config, "alphavantage", settings=fast(alphavantage=section))
    assert len(list((config.landing_dir / "bars").glob("*.csv"))) == 3  # IBM still landed


def test_unknown_source_and_missing_key_are_config_errors(config, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="expected finnhub or alphavantage, got 'yahoo'"):
        run_collector(config, "yahoo", settings=fast())
    monkeypatch.delenv("FINNHUB_API_KEY")
    with pytest.raises(ConfigError, match="FINNHUB_API_KEY: expected a secret"):
        collect_finnhub(config, ["AAPL"], "1s", settings=fast())
