"""Real loopback servers that speak Finnhub's WebSocket and Alpha Vantage's REST formats and
misbehave on cue: drop connections, send malformed messages, throttle, return 500s."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

# ---- Finnhub ---------------------------------------------------------------------------------


def trade_message(symbol: str, start_ms: int, n: int = 2, price: float = 100.0) -> str:
    """A trade message with ``n`` trades whose times start at ``start_ms`` (unique per call)."""
    data = [
        {"s": symbol, "p": price + i / 100, "v": 10 + i, "t": start_ms + i, "c": ["1"]}
        for i in range(n)
    ]
    return json.dumps({"type": "trade", "data": data})


class FinnhubServer:
    """A WebSocket server on 127.0.0.1 running one script per connection.

    A script is a list of actions: ``("send", text|bytes)``, ``("sleep", seconds)``,
    ``("drop",)`` (close TCP without a close frame, after sending what was queued),
    ``("abort",)`` (reset at once; queued data may be lost), ``("close",)`` (clean close).
    Before its script the server waits until the client subscribed ``expect_symbols``
    symbols. Connections beyond the scripts stay open and idle.
    """

    def __init__(
        self,
        scripts: list[list[tuple[Any, ...]]],
        expect_symbols: int = 1,
        reject_status: int | None = None,
    ) -> None:
        self.scripts = scripts
        self.reject_status = reject_status  # answer every handshake with this HTTP status
        self.expect_symbols = expect_symbols
        self.paths: list[str] = []
        self.subscribes: list[list[str]] = []
        self.unsubscribes: list[list[str]] = []
        self.sent: list[str] = []  # every text message written, in order
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def delivered_trades(self) -> list[tuple[str, int, float]]:
        """(symbol, t, p) of every well-formed trade element the server sent."""
        out = []
        for text in self.sent:
            try:
                body = json.loads(text)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("type") == "trade":
                data = body.get("data")
                for e in data if isinstance(data, list) else []:
                    if isinstance(e, dict) and all(e.get(k) is not None for k in "spvt"):
                        out.append((e["s"], e["t"], e["p"]))
        return out

    def __enter__(self) -> FinnhubServer:
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = ready.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> int:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, ping_interval=None, process_request=self._reject
        )
        return int(self._server.sockets[0].getsockname()[1])

    def _reject(self, connection: ServerConnection, request: Any) -> Any:
        if self.reject_status is None:
            return None  # go on with the handshake; _handle records the path
        self.paths.append(request.path)
        return connection.respond(HTTPStatus(self.reject_status), "invalid token\n")

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.paths)
        self.paths.append(ws.request.path if ws.request else "")
        subs: list[str] = []
        unsubs: list[str] = []
        self.subscribes.append(subs)
        self.unsubscribes.append(unsubs)
        reader = asyncio.create_task(self._read(ws, subs, unsubs))
        try:
            deadline = time.monotonic() + 5
            while len(subs) < self.expect_symbols and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            script = self.scripts[index] if index < len(self.scripts) else []
            for action in script:
                if not await self._act(ws, action):
                    return
            await reader
        except Exception:  # a client going away is normal here
            pass
        finally:
            reader.cancel()

    async def _act(self, ws: ServerConnection, action: tuple[Any, ...]) -> bool:
        kind = action[0]
        if kind == "send":
            await ws.send(action[1])
            if isinstance(action[1], str):
                self.sent.append(action[1])
        elif kind == "sleep":
            await asyncio.sleep(action[1])
        elif kind == "drop":
            await asyncio.sleep(0.05)  # let queued frames reach the socket
            ws.transport.close()
            return False
        elif kind == "abort":
            ws.transport.abort()
            return False
        elif kind == "close":
            await ws.close()
            return False
        return True

    @staticmethod
    async def _read(ws: ServerConnection, subs: list[str], unsubs: list[str]) -> None:
        async for raw in ws:
            body = json.loads(raw)
            (subs if body["type"] == "subscribe" else unsubs).append(body["symbol"])


# ---- Alpha Vantage ---------------------------------------------------------------------------


def daily_csv(symbol: str, days: int = 3) -> str:
    rows = ["timestamp,open,high,low,close,volume"]
    for d in range(days, 0, -1):
        price = 100 + d + len(symbol)
        rows.append(f"2024-01-{d:02d},{price},{price + 1},{price - 1},{price + 0.5},{1000 * d}")
    return "\r\n".join(rows) + "\r\n"  # Alpha Vantage sends CRLF


def daily_json(symbol: str, days: int = 3) -> str:
    series = {}
    for d in range(1, days + 1):
        price = 100 + d + len(symbol)
        series[f"2024-01-{d:02d}"] = {
            "1. open": str(price),
            "2. high": str(price + 1),
            "3. low": str(price - 1),
            "4. close": str(price + 0.5),
            "5. volume": str(1000 * d),
        }
    return json.dumps({"Meta Data": {"2. Symbol": symbol}, "Time Series (Daily)": series})


class AlphaVantageServer:
    """An HTTP server on 127.0.0.1: ``/query?function=...&symbol=...&apikey=...``.

    ``scripts[symbol]`` is a queue of responses used in order, then ``"csv"`` forever:
    ``"csv"``, ``"json"``, ``"note"``, ``"information"``, ``"500"``, ``"429"``, ``"error"``,
    ``"echo_key_error"`` (an error naming the key it got). With ``limit=(n, seconds)`` the
    server throttles (a Note body) any request beyond ``n`` in a sliding window.
    """

    def __init__(
        self, scripts: dict[str, list[str]] | None = None, limit: tuple[int, float] | None = None
    ) -> None:
        self.scripts = {k: deque(v) for k, v in (scripts or {}).items()}
        self.limit = limit
        self.requests: list[tuple[float, dict[str, str]]] = []
        self.window_throttles = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, headers = server.respond(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/query"

    def __enter__(self) -> AlphaVantageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def times(self, symbol: str) -> list[float]:
        return [t for t, p in self.requests if p.get("symbol") == symbol]

    def respond(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        params = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        now = time.monotonic()
        with self._lock:
            self.requests.append((now, params))
            symbol = params.get("symbol", "")
            if self.limit and self._over_limit(now):
                self.window_throttles += 1
                return self._json({"Note": "Thank you for using Alpha Vantage! 5 calls/min."})
            queue = self.scripts.get(symbol)
            kind = queue.popleft() if queue else "csv"
        return self._kind(kind, symbol, params)

    def _over_limit(self, now: float) -> bool:
        n, window = self.limit  # type: ignore[misc]
        recent = [t for t, _ in self.requests[:-1] if t > now - window]
        return len(recent) >= n

    def _kind(self, kind: str, symbol: str, params: dict[str, str]) -> tuple[int, bytes, dict]:
        if kind == "csv":
            return 200, daily_csv(symbol).encode(), {"Content-Type": "text/csv"}
        if kind == "json":
            return self._json(json.loads(daily_json(symbol)))
        if kind == "note":
            return self._json({"Note": "API call frequency is 5 calls per minute."})
        if kind == "information":
            return self._json({"Information": "Please consider a premium plan."})
        if kind == "html":
            return 200, b"<html>down for maintenance</html>", {"Content-Type": "text/html"}
        if kind == "500":
            return 500, b"internal error", {}
        if kind == "429":
            return 429, b"too many requests", {"Retry-After": "0.1"}
        if kind == "error":
            return self._json({"Error Message": "Invalid API call. Please retry or visit docs."})
        if kind == "echo_key_error":
            key = params.get("apikey", "")
            return self._json({"Error Message": f"the apikey {key} is invalid (apikey={key})"})
        raise ValueError(kind)

    @staticmethod
    def _json(body: dict) -> tuple[int, bytes, dict[str, str]]:
        return 200, json.dumps(body).encode(), {"Content-Type": "application/json"}
