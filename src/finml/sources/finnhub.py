"""Finnhub WebSocket trade collector -> ``<landing>/trades/finnhub_*.jsonl``.

Connects, subscribes every symbol, and buffers trade messages; the buffer is landed as a new
file when it holds ``flush_max_trades`` trades or its oldest line is ``flush_interval_s`` old.
A dropped connection first lands what was already received, then reconnects after an
exponential backoff with full jitter and subscribes again. Why nothing is lost or doubled:
a message is buffered once when received, a landed file is never written again, and the
buffer is landed before every wait — so a drop only loses what the server never delivered.
Unreadable messages go to ``<landing>/rejected/finnhub_*.jsonl`` with their reason and never
stop the run. The API key is sent as ``token=`` in the URL and masked in every log and error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from finml.config_collectors import FinnhubSettings
from finml.errors import CollectorError
from finml.log import get_logger
from finml.sources.collector_io import LineBuffer, install_log_redaction, redact
from finml.sources.finnhub_messages import parse_message, subscribe, unsubscribe
from finml.sources.ratelimit import Backoff

log = get_logger("sources.finnhub")
_TICK_S = 0.2  # longest a stop request or deadline waits to be noticed


@dataclass
class FinnhubReport:
    """What one run did."""

    messages: int = 0
    trades: int = 0
    pings: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    reconnects: int = 0
    files: list[str] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)
    seconds: float = 0.0


class FinnhubCollector:
    """Collect trades for ``settings.symbols`` into ``landing_dir`` (see the module doc)."""

    def __init__(
        self,
        settings: FinnhubSettings,
        landing_dir: Path,
        api_key: SecretStr | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_progress: Callable[[FinnhubReport], None] | None = None,
    ) -> None:
        self.settings, self.api_key, self.clock = settings, api_key, clock
        self.on_progress = on_progress
        self.report = FinnhubReport()
        self.trades = LineBuffer(
            Path(landing_dir) / "trades",
            "finnhub",
            settings.flush_max_trades,
            settings.flush_interval_s,
            clock,
        )
        self.rejects = LineBuffer(
            Path(landing_dir) / "rejected", "finnhub", 1000, settings.flush_interval_s, clock
        )
        self._stop_requested = False
        self._last_error = ""
        self._secret = api_key.get_secret_value() if api_key else ""
        install_log_redaction([api_key])

    @property
    def url(self) -> str:
        """The WebSocket URL with the token (never log this: use :attr:`safe_url`)."""
        if self.api_key is None:
            return self.settings.url
        parts = urlsplit(self.settings.url)
        token = urlencode({"token": self.api_key.get_secret_value()})
        query = f"{parts.query}&{token}" if parts.query else token
        return urlunsplit(parts._replace(query=query))

    @property
    def safe_url(self) -> str:
        return self._redact(self.url)

    def stop(self) -> None:
        """Ask the run to end: it unsubscribes, lands what it holds and returns."""
        self._stop_requested = True

    async def run(self, duration_s: float | None = None) -> FinnhubReport:
        """Collect until ``duration_s`` seconds passed (None: until :meth:`stop`).

        Raises:
            CollectorError: the server refused the API key, no connection was ever made, or
                ``max_reconnects`` was exceeded (what was received is landed first).
        """
        started = self.clock()
        deadline = None if duration_s is None else started + duration_s
        backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_max_s)
        try:
            while not self._done(deadline):
                if await self._session(deadline):
                    backoff.reset()
                self._flush(force=True)
                if self._done(deadline):
                    break
                self._check_reconnect_budget()
                self.report.reconnects += 1
                await self._wait(backoff.next(), deadline)
        finally:
            self._flush(force=True)
            self.report.seconds = self.clock() - started
        if self.report.connections == 0:
            raise CollectorError(
                f"finnhub {self.safe_url}: expected a WebSocket connection, got none in "
                f"{self.report.reconnects} attempt(s); last error: {self._last_error}"
            )
        return self.report

    async def _session(self, deadline: float | None) -> bool:
        """One connection: subscribe, receive until drop/stop/deadline. True if subscribed."""
        subscribed = False
        try:
            async with connect(
                self.url,
                open_timeout=self.settings.open_timeout_s,
                close_timeout=min(self.settings.open_timeout_s, 2.0),
                # Oversized messages are rejected and kept by parse_message; the library's
                # hard cap (which closes the connection) only guards memory far above that.
                max_size=16 * self.settings.max_message_bytes,
                logger=logging.getLogger("websockets.client"),
            ) as ws:
                self.report.connections += 1
                for symbol in self.settings.symbols:
                    await ws.send(subscribe(symbol))
                subscribed = True
                log.info("finnhub_connected", url=self.safe_url, symbols=self.settings.symbols)
                await self._receive(ws, deadline)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise CollectorError(
                    f"finnhub {self.safe_url}: expected the API key (FINNHUB_API_KEY) to be "
                    f"accepted, got HTTP {status}"
                ) from None
            self._note_error(exc)
        except (ConnectionClosed, WebSocketException, OSError, TimeoutError) as exc:
            self._note_error(exc)
        return subscribed

    async def _receive(self, ws: ClientConnection, deadline: float | None) -> None:
        """Buffer every message; size flushes inline, age flushes and the end in a ticker."""
        ticker = asyncio.create_task(self._tick(ws, deadline))
        try:
            async for message in ws:  # ends when the ticker closes the connection
                self._handle(message)
                if self.trades.count >= self.trades.max_count:
                    self._flush(force=False)
        finally:
            ticker.cancel()
        if ticker.done() and not ticker.cancelled() and ticker.exception():
            raise ticker.exception()  # type: ignore[misc]  # e.g. a failed flush

    async def _tick(self, ws: ClientConnection, deadline: float | None) -> None:
        next_progress = self.clock() + 0.5
        try:
            while not self._done(deadline):
                wait = min(_TICK_S, self.trades.seconds_to_due(), self.rejects.seconds_to_due())
                await asyncio.sleep(max(wait, 0.0))
                self._flush(force=False)
                if self.on_progress and self.clock() >= next_progress:
                    self.on_progress(self.report)
                    next_progress = self.clock() + 0.5
            await self._unsubscribe(ws)
        except Exception:
            await ws.close()  # so the receive loop ends and re-raises this failure
            raise
        await ws.close()

    def _handle(self, message: str | bytes) -> None:
        self.report.messages += 1
        parsed = parse_message(message, self.settings.max_message_bytes)
        if parsed.kind == "ping":
            self.report.pings += 1
        if parsed.line is not None:
            line = parsed.line
            if self._secret and self._secret in line:
                line = self._redact(line)  # a server echoing the key never lands it
            self.trades.add(line, parsed.trades)
            self.report.trades += parsed.trades
        for reason, raw in parsed.rejected:
            self.report.rejected += 1
            self.report.reasons[reason.split(":")[0]] += 1
            self.rejects.add(
                json.dumps(
                    {
                        "reason": reason,
                        "received_at": datetime.now(UTC).isoformat(),
                        "source": "finnhub",
                        "raw": self._redact(raw),
                    }
                )
            )

    async def _unsubscribe(self, ws: ClientConnection) -> None:
        """Unsubscribe before a deliberate close (stop or end of the duration)."""
        try:
            for symbol in self.settings.symbols:
                await ws.send(unsubscribe(symbol))
        except ConnectionClosed:
            pass  # closing anyway

    def _flush(self, *, force: bool) -> None:
        for buffer, files in ((self.trades, self.report.files), (self.rejects, None)):
            if force or buffer.seconds_to_due() == 0:
                path = buffer.flush()
                if path is not None:
                    (files if files is not None else self.report.rejected_files).append(str(path))
                    log.debug("finnhub_flushed", file=str(path))

    async def _wait(self, seconds: float, deadline: float | None) -> None:
        log.warning("finnhub_reconnecting", in_s=round(seconds, 3), error=self._last_error)
        until = self.clock() + seconds
        while not self._done(deadline) and self.clock() < until:
            await asyncio.sleep(min(_TICK_S, until - self.clock()))

    def _done(self, deadline: float | None) -> bool:
        return self._stop_requested or (deadline is not None and self.clock() >= deadline)

    def _check_reconnect_budget(self) -> None:
        limit = self.settings.max_reconnects
        if limit is not None and self.report.reconnects >= limit:
            raise CollectorError(
                f"finnhub {self.safe_url}: expected to reconnect within {limit} attempt(s), "
                f"got {self.report.reconnects} failed; last error: {self._last_error}"
            )

    def _note_error(self, exc: BaseException) -> None:
        self._last_error = self._redact(f"{type(exc).__name__}: {exc}")
        log.warning("finnhub_connection_lost", url=self.safe_url, error=self._last_error)

    def _redact(self, text: str) -> str:
        return redact(text, [self.api_key])
