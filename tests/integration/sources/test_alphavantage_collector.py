"""AlphaVantageCollector against a real HTTP server on 127.0.0.1 that throttles (Note and
Information bodies, HTTP 429), fails with 500s and answers errors."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from collector_servers import AlphaVantageServer, daily_csv
from pydantic import SecretStr

from finml.config import ProjectConfig
from finml.config_collectors import AlphaVantageSettings, CollectorSettings
from finml.jobs.collect import collect_alphavantage
from finml.sources.alphavantage import AlphaVantageCollector
from finml.sources.ratelimit import RateLimiter, RateLimitExhausted

KEY = "av-test-key-91c2"


def av(url: str, **values: object) -> AlphaVantageSettings:
    base = {
        "base_url": url,
        "symbols": ["AAPL"],
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "throttle_wait_s": 0.1,
        "max_retries": 4,
        "timeout_s": 5,
        "requests_per_minute": 1000,
        "requests_per_day": 1000,
    }
    return AlphaVantageSettings(**{**base, **values})


def bars(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def test_throttled_and_failing_run_waits_and_completes(tmp_path: Path) -> None:
    scripts = {"AAPL": ["note", "500", "csv"], "MSFT": ["429", "information", "json"]}
    with AlphaVantageServer(scripts) as server:
        settings = av(server.url, symbols=["AAPL", "MSFT", "IBM"])
        report = AlphaVantageCollector(settings, tmp_path, SecretStr(KEY)).collect()
    assert report.failures == {} and report.requests == 7 and report.retries == 4
    assert report.throttled == 2 and report.rows == {"AAPL": 3, "MSFT": 3, "IBM": 3}
    for symbol in ("AAPL", "MSFT", "IBM"):
        (file,) = [f for f in report.files if f.endswith(f"_daily_{symbol}.csv")]
        assert bars(file) == daily_csv(symbol).splitlines()  # CSV and JSON land the same
    aapl, msft = server.times("AAPL"), server.times("MSFT")
    assert aapl[1] - aapl[0] >= 0.1  # waited throttle_wait_s after the Note
    assert msft[1] - msft[0] >= 0.1  # honoured Retry-After: 0.1 of the 429
    assert msft[2] - msft[1] >= 0.1
    params = server.requests[0][1]
    assert params["function"] == "TIME_SERIES_DAILY" and params["outputsize"] == "compact"
    assert params["apikey"] == KEY and params["datatype"] == "csv"


def test_run_keeps_to_the_configured_rate_limit_against_a_strict_server(tmp_path: Path) -> None:
    # Time runs 50x fast for the client (a minute is 1.2 s); the server throttles any
    # 6th request in 1.0 s, so a client over 5/min would see Notes. (The 0.2 s margin
    # absorbs scheduling delays on a loaded machine; a 30 ms one did not.)
    scale, start = 50.0, time.monotonic()

    def clock() -> float:
        return start + (time.monotonic() - start) * scale

    def sleep(seconds: float) -> None:
        time.sleep(seconds / scale)

    symbols = [f"S{i}" for i in range(12)]
    with AlphaVantageServer(limit=(5, 1.0)) as server:
        settings = av(server.url, symbols=symbols, requests_per_minute=5)
        limiter = RateLimiter(5, 1000, clock=clock, sleep=sleep)
        began = time.monotonic()
        report = AlphaVantageCollector(
            settings, tmp_path, SecretStr(KEY), limiter=limiter, sleep=sleep
        ).collect()
        elapsed = time.monotonic() - began
    assert server.window_throttles == 0 and report.throttled == 0
    assert sorted(report.rows) == sorted(symbols) and report.failures == {}
    assert elapsed >= 2.3  # 12 requests at 5 per 1.2 s: two full waits
    assert report.waited_s > 0

    # The same run without a client-side limit is throttled by the server, retries, and
    # still completes.
    with AlphaVantageServer(limit=(5, 0.27)) as server:
        settings = av(server.url, symbols=symbols, throttle_wait_s=0.1, max_retries=10)
        report = AlphaVantageCollector(settings, tmp_path / "unlimited", SecretStr(KEY)).collect()
    assert server.window_throttles > 0 and report.throttled == server.window_throttles
    assert report.failures == {} and len(report.rows) == 12


def test_error_message_fails_that_symbol_clearly_and_the_rest_land(tmp_path: Path) -> None:
    with AlphaVantageServer({"BAD": ["echo_key_error"], "GONE": ["500"] * 9}) as server:
        settings = av(server.url, symbols=["BAD", "AAPL", "GONE"], max_retries=2)
        report = AlphaVantageCollector(settings, tmp_path, SecretStr(KEY)).collect()
    assert sorted(report.rows) == ["AAPL"]
    assert report.failures["BAD"].startswith("alphavantage BAD: API error: the apikey ***")
    assert "expected data within 2 retries, got: HTTP 500" in report.failures["GONE"]
    assert len(server.times("GONE")) == 3
    assert all(KEY not in why for why in report.failures.values())


def test_daily_budget_is_enforced_across_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    config = ProjectConfig(home=tmp_path / "home")
    with AlphaVantageServer() as server:
        limits = CollectorSettings(alphavantage=av(server.url, requests_per_day=2))
        with pytest.raises(RateLimitExhausted, match="at most 2 requests per day"):
            collect_alphavantage(config, ["A", "B", "C"], settings=limits)
        first = len(server.requests)
        with pytest.raises(RateLimitExhausted):
            collect_alphavantage(config, ["D"], settings=limits)
    assert first == 2 and len(server.requests) == 2  # the second run sent nothing
    assert len(list((config.landing_dir / "bars").glob("*.csv"))) == 2


def test_intraday_json_lands_with_the_interval_in_the_name(tmp_path: Path) -> None:
    with AlphaVantageServer({"AAPL": ["json"]}) as server:
        settings = av(
            server.url, function="TIME_SERIES_INTRADAY", interval="15min", outputsize="full"
        )
        report = AlphaVantageCollector(settings, tmp_path, SecretStr(KEY)).collect()
        params = server.requests[0][1]
    assert params["interval"] == "15min" and params["outputsize"] == "full"
    assert report.files[0].endswith("_intraday_15min_AAPL.csv")


def test_http_client_logs_never_show_the_key(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with AlphaVantageServer({"AAPL": ["500", "csv"]}) as server:
        AlphaVantageCollector(av(server.url), tmp_path, SecretStr(KEY)).collect()
    assert "apikey=***" in caplog.text  # httpx logged the request URL, masked
    assert KEY not in caplog.text


def test_unexpected_body_is_a_clear_error(tmp_path: Path) -> None:
    with AlphaVantageServer({"AAPL": ["html"]}) as server:
        report = AlphaVantageCollector(av(server.url), tmp_path, SecretStr(KEY)).collect()
    assert report.failures["AAPL"] == (
        "alphavantage AAPL: expected CSV header 'timestamp,open,high,low,close,volume', "
        "got '<html>down for maintenance</html>'"
    )
    assert len(server.requests) == 1 and not list(tmp_path.rglob("*.csv"))
