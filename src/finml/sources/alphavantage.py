"""Alpha Vantage REST OHLCV collector -> ``<landing>/bars/av_<time>_<id>_daily_<SYMBOL>.csv``.

One request per symbol (``TIME_SERIES_DAILY`` or ``TIME_SERIES_INTRADAY`` with ``interval``,
``outputsize`` compact|full, ``datatype`` csv|json). Every request first passes the
:class:`RateLimiter` (per minute and per day). HTTP 429/5xx, transport errors and the API's
throttle bodies (``{"Note": ...}``, ``{"Information": ...}``, sent with HTTP 200) are retried
after an exponential, jittered backoff — plus ``throttle_wait_s`` after a throttle body, and
at least ``Retry-After`` (capped). ``{"Error Message": ...}`` fails the symbol at once.

The landed CSV is ``timestamp,open,high,low,close,volume``, newest first — what bronze
ingestion reads. Ingestion takes the symbol from the name's ``daily_<SYMBOL>.csv`` /
``intraday_<interval>_<SYMBOL>.csv`` end; the unique prefix means a later run never
overwrites a file ingestion has already seen (its file stream would skip a rewritten name).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from finml.config_collectors import AlphaVantageSettings
from finml.errors import CollectorError
from finml.log import get_logger
from finml.sources.collector_io import install_log_redaction, landing_name, redact, write_atomic
from finml.sources.ratelimit import Backoff, RateLimiter, RateLimitExhausted

log = get_logger("sources.alphavantage")
CSV_HEADER = "timestamp,open,high,low,close,volume"
_JSON_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")


class _Retryable(Exception):
    def __init__(self, reason: str, wait_at_least: float = 0.0) -> None:
        super().__init__(reason)
        self.wait_at_least = wait_at_least


@dataclass
class AlphaVantageReport:
    """What one run did; ``failures`` maps a symbol to why it was not landed."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    waited_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


class AlphaVantageCollector:
    """Fetch OHLCV for symbols and land it as CSV (see the module doc)."""

    def __init__(
        self,
        settings: AlphaVantageSettings,
        landing_dir: Path,
        api_key: SecretStr,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings, self.api_key, self.sleep = settings, api_key, sleep
        self.bars_dir = Path(landing_dir) / "bars"
        self.limiter = limiter or RateLimiter(
            settings.requests_per_minute, settings.requests_per_day, sleep=sleep
        )
        self.backoff = backoff or Backoff(settings.backoff_base_s, settings.backoff_max_s)
        self.report = AlphaVantageReport()
        install_log_redaction([api_key])

    def collect(self, symbols: list[str] | None = None) -> AlphaVantageReport:
        """Land one CSV per symbol; a failing symbol is recorded and the rest go on.

        Raises:
            RateLimitExhausted: the per-day budget ran out (the rest are listed as failed).
        """
        todo = list(symbols or self.settings.symbols)
        with httpx.Client(timeout=self.settings.timeout_s) as client:
            for index, symbol in enumerate(todo):
                try:
                    self._land(symbol, self.fetch(client, symbol))
                except RateLimitExhausted as exc:
                    for rest in todo[index:]:
                        self.report.failures[rest] = str(exc)
                    raise
                except CollectorError as exc:
                    self.report.failures[symbol] = str(exc)
                    log.error("alphavantage_failed", symbol=symbol, error=str(exc))
        self.report.waited_s = round(self.limiter.waited_s + self.report.waited_s, 3)
        return self.report

    def fetch(self, client: httpx.Client, symbol: str) -> str:
        """The symbol's bars as CSV text (header first, newest first).

        Raises:
            CollectorError: the API answered with an error, an unexpected body, or kept
                failing/throttling for ``max_retries`` retries. Never contains the API key.
        """
        self.backoff.reset()
        reason = ""
        for attempt in range(self.settings.max_retries + 1):
            self.limiter.acquire()
            self.report.requests += 1
            try:
                return self._request(client, symbol)
            except CollectorError as exc:
                # Whatever the server echoed (bodies, CSV lines) is masked, not just the URL.
                raise CollectorError(redact(exc, [self.api_key])) from None
            except _Retryable as exc:
                reason = redact(exc, [self.api_key])
                if attempt == self.settings.max_retries:
                    break
                wait = max(self.backoff.next(), exc.wait_at_least)
                self.report.retries += 1
                self.report.waited_s += wait
                log.warning("alphavantage_retry", symbol=symbol, reason=reason, wait_s=wait)
                self.sleep(wait)
        raise CollectorError(
            f"alphavantage {symbol}: expected data within {self.settings.max_retries} "
            f"retries, got: {reason}"
        )

    def _request(self, client: httpx.Client, symbol: str) -> str:
        try:
            response = client.get(self.settings.base_url, params=self._params(symbol))
        except httpx.TransportError as exc:
            raise _Retryable(f"transport error {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = _seconds(response.headers.get("Retry-After"))
            # Honour Retry-After, but never let a server park the job beyond our own limits.
            cap = max(self.settings.backoff_max_s, self.settings.throttle_wait_s)
            raise _Retryable(f"HTTP {status}", min(retry_after, cap))
        if status != 200:
            raise CollectorError(
                f"alphavantage {symbol}: expected HTTP 200, got {status}: "
                f"{redact(response.text[:200], [self.api_key])}"
            )
        return self._body(symbol, response.text)

    def _body(self, symbol: str, text: str) -> str:
        stripped = text.lstrip()
        body = None
        if stripped.startswith("{"):
            try:
                body = json.loads(stripped)
            except ValueError:
                raise CollectorError(
                    f"alphavantage {symbol}: expected a JSON or CSV body, got {text[:80]!r}"
                ) from None
        if isinstance(body, dict):
            for key in ("Note", "Information"):
                if key in body:
                    self.report.throttled += 1
                    raise _Retryable(
                        f"throttled ({key}): {body[key]}", self.settings.throttle_wait_s
                    )
            if "Error Message" in body:
                message = redact(body["Error Message"], [self.api_key])
                raise CollectorError(f"alphavantage {symbol}: API error: {message}")
            return json_to_csv(body, symbol)
        return checked_csv(text, symbol)

    def _params(self, symbol: str) -> dict[str, str]:
        s = self.settings
        params = {
            "function": s.function,
            "symbol": symbol,
            "outputsize": s.outputsize,
            "datatype": s.datatype,
            "apikey": self.api_key.get_secret_value(),
        }
        if s.function == "TIME_SERIES_INTRADAY":
            params["interval"] = s.interval
        return params

    def _land(self, symbol: str, csv_text: str) -> None:
        rows = csv_text.count("\n") - 1
        kind = "daily" if self.settings.function == "TIME_SERIES_DAILY" else "intraday"
        tail = (
            f"{kind}_{symbol}" if kind == "daily" else f"{kind}_{self.settings.interval}_{symbol}"
        )
        path = write_atomic(self.bars_dir / landing_name("av", "csv", tail), csv_text)
        self.report.rows[symbol] = rows
        self.report.files.append(str(path))
        log.info("alphavantage_landed", symbol=symbol, rows=rows, file=str(path))


def checked_csv(text: str, symbol: str) -> str:
    """CSV text with a trailing newline, after checking the header.

    Raises:
        CollectorError: the first line is not ``timestamp,open,high,low,close,volume``.
    """
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0].lower() != CSV_HEADER:
        got = repr(lines[0][:80]) if lines else "an empty body"
        raise CollectorError(
            f"alphavantage {symbol}: expected CSV header {CSV_HEADER!r}, got {got}"
        )
    return "\n".join(lines) + "\n"


def json_to_csv(body: dict, symbol: str) -> str:
    """An Alpha Vantage JSON time series -> the landed CSV (newest first).

    Raises:
        CollectorError: there is no ``Time Series (...)`` object or a bar lacks a field.
    """
    series_key = next((k for k in body if k.startswith("Time Series")), None)
    series = body.get(series_key) if series_key else None
    if not isinstance(series, dict):
        raise CollectorError(
            f"alphavantage {symbol}: expected a 'Time Series (...)' object, got keys {sorted(body)}"
        )
    rows = [CSV_HEADER]
    for stamp in sorted(series, reverse=True):
        bar = series[stamp]
        missing = [f for f in _JSON_FIELDS if not isinstance(bar, dict) or f not in bar]
        if missing:
            raise CollectorError(
                f"alphavantage {symbol} bar {stamp}: expected {missing}, got {bar}"
            )
        rows.append(",".join([stamp, *(str(bar[f]) for f in _JSON_FIELDS)]))
    return "\n".join(rows) + "\n"


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0  # an HTTP date: fall back to our own backoff
