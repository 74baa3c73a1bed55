"""Collector jobs: live market sources -> the landing zone, ahead of the medallion pipeline.

A bundle task (or ``finml collect ...``) calls :func:`collect_finnhub` /
:func:`collect_alphavantage`; both read the ``collectors:`` config section, take the API key
from the environment, and return a small report. Bronze ingestion then picks the files up.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finml.config import secret
from finml.config_collectors import CollectorSettings, collector_settings, with_overrides
from finml.errors import CollectorError, ConfigError
from finml.log import get_logger
from finml.sources.collector_io import write_atomic

if TYPE_CHECKING:
    from pydantic import SecretStr

    from finml.config import ProjectConfig
    from finml.sources.alphavantage import AlphaVantageReport
    from finml.sources.finnhub import FinnhubReport

log = get_logger("jobs.collect")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class CollectorRun:
    """The outcome of :func:`run_collector`: records are trades or bars landed."""

    source: str
    records: int
    files: int
    rejected: int


def run_collector(
    config: ProjectConfig,
    source: str,
    *,
    duration: str | float | None = None,
    settings: CollectorSettings | None = None,
) -> CollectorRun:
    """Run one collector with the project's settings (the bundle's ``collect`` task).

    ``source`` is ``finnhub`` (for ``duration``, default ``collectors.finnhub.duration_s``;
    SIGTERM ends it early with a final flush) or ``alphavantage``.

    Raises:
        ConfigError: unknown source, missing API key or invalid settings.
        CollectorError: the source failed, or some Alpha Vantage symbol could not be landed
            (the others are landed; a task retry fetches again).
    """
    settings = settings or settings_of(config)
    if source == "finnhub":
        seconds = duration if duration is not None else settings.finnhub.duration_s
        fh = collect_finnhub(config, duration=seconds, settings=settings, handle_signals=True)
        return CollectorRun(source, fh.trades, len(fh.files), fh.rejected)
    if source == "alphavantage":
        av = collect_alphavantage(config, settings=settings)
        if av.failures:
            raise CollectorError(
                "alphavantage: expected every symbol landed, got failures: "
                + "; ".join(f"{s}: {why}" for s, why in sorted(av.failures.items()))
            )
        return CollectorRun(source, sum(av.rows.values()), len(av.files), 0)
    raise ConfigError(f"collector source: expected finnhub or alphavantage, got {source!r}")


def parse_duration(text: str | float | None) -> float | None:
    """``"5m"`` -> 300.0; ``"90s"``, ``"1.5h"``, ``"250ms"``, plain seconds; None -> None.

    Raises:
        ConfigError: the text is not a positive duration.
    """
    if text is None or isinstance(text, int | float):
        return None if text is None else float(text)
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"duration: expected e.g. 30s, 5m, 1h, got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def settings_of(config: ProjectConfig) -> CollectorSettings:
    """The project's ``collectors:`` section, validated (defaults when absent)."""
    return collector_settings(getattr(config, "collectors", None))


def collect_finnhub(
    config: ProjectConfig,
    symbols: list[str] | None = None,
    duration: str | float | None = "5m",
    *,
    settings: CollectorSettings | None = None,
    on_progress: Callable[[FinnhubReport], None] | None = None,
    handle_signals: bool = False,
    **overrides: Any,
) -> FinnhubReport:
    """Collect Finnhub trades into ``<landing>/trades`` for ``duration`` (None: until SIGINT).

    ``overrides`` replace fields of the finnhub settings (``url``, ``flush_interval_s``, ...).
    With ``handle_signals`` SIGINT/SIGTERM end the run gracefully (final flush).

    Raises:
        ConfigError: FINNHUB_API_KEY is in neither the environment nor the secrets file, or
            a setting is invalid.
        CollectorError: the server refused the key or could never be reached.
    """
    from finml.sources.finnhub import FinnhubCollector

    base = settings or settings_of(config)
    fh = with_overrides(base, "finnhub", symbols=symbols, **overrides).finnhub
    key = _api_key(config, "FINNHUB_API_KEY")
    collector = FinnhubCollector(fh, config.landing_dir, key, on_progress=on_progress)

    async def main() -> FinnhubReport:
        if handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, collector.stop)
                except (ValueError, RuntimeError, NotImplementedError):
                    log.warning("no_signal_handler", signal=sig.name)  # not the main thread
        return await collector.run(parse_duration(duration))

    report = asyncio.run(main())
    log.info(
        "finnhub_collected",
        trades=report.trades,
        rejected=report.rejected,
        files=len(report.files),
        reconnects=report.reconnects,
    )
    return report


def collect_alphavantage(
    config: ProjectConfig,
    symbols: list[str] | None = None,
    function: str | None = None,
    *,
    settings: CollectorSettings | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    **overrides: Any,
) -> AlphaVantageReport:
    """Land Alpha Vantage OHLCV CSVs in ``<landing>/bars`` for ``symbols``.

    ``function`` is TIME_SERIES_DAILY or TIME_SERIES_INTRADAY; ``overrides`` replace fields
    of the alphavantage settings (``interval``, ``outputsize``, ``base_url``, ...). Request
    times are kept in ``<home>/collectors/alphavantage_calls.json`` so the per-day budget
    holds across runs.

    Raises:
        ConfigError: ALPHAVANTAGE_API_KEY is in neither the environment nor the secrets
            file, or a setting is invalid.
        RateLimitExhausted: the per-day budget ran out.
    """
    from finml.sources.alphavantage import AlphaVantageCollector
    from finml.sources.ratelimit import RateLimiter

    base = settings or settings_of(config)
    av = with_overrides(base, "alphavantage", symbols=symbols, function=function, **overrides)
    av_settings = av.alphavantage
    key = _api_key(config, "ALPHAVANTAGE_API_KEY")
    state = config.home / "collectors" / "alphavantage_calls.json"
    limiter = RateLimiter(
        av_settings.requests_per_minute,
        av_settings.requests_per_day,
        clock=clock,
        sleep=sleep,
        history=_load_calls(state),
    )
    collector = AlphaVantageCollector(
        av_settings, config.landing_dir, key, limiter=limiter, sleep=sleep
    )
    try:
        report = collector.collect()
    finally:
        _save_calls(state, limiter.history)
    log.info(
        "alphavantage_collected",
        symbols=len(report.rows),
        failures=sorted(report.failures),
        requests=report.requests,
        retries=report.retries,
    )
    return report


def _api_key(config: ProjectConfig, variable: str) -> SecretStr:
    key = secret(variable, required=True, config=config)
    if key is None:  # secret(required=True) raises first; this keeps the type exact
        raise ConfigError(f"environment variable {variable}: expected a secret, found it unset")
    return key


def _load_calls(path: Path) -> list[float]:
    if not path.is_file():
        return []
    try:
        values = json.loads(path.read_text())
    except ValueError:
        raise ConfigError(f"file {path}: expected a JSON list of request times") from None
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        raise ConfigError(f"file {path}: expected a JSON list of request times, got {values!r}")
    return [float(v) for v in values]


def _save_calls(path: Path, calls: list[float]) -> None:
    target = path.with_name(f"{path.stem}.{time.time_ns()}.json")
    write_atomic(target, json.dumps(calls))
    target.replace(path)  # the state file itself is rewritten, atomically
