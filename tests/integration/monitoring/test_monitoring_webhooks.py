"""Webhook delivery against real HTTP servers on 127.0.0.1; outcomes in a real Delta table."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.settings import AlertSettings
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

SECRET = "s3cret-for-tests"


class Receiver:
    """Fails the first ``failures`` requests with 503, then accepts (records) each body."""

    def __init__(self, failures: int, status: int = 503, port: int = 0) -> None:
        self.failures = failures
        self.status = status
        self.attempts = 0
        self.received: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(receiver.status)
                    self.end_headers()
                    self.wfile.write(b"try later")
                    return
                receiver.received.append((dict(self.headers), json.loads(body)))
                receiver.raw = body
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.server.shutdown()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def _alert(title: str = "psi 0.41 on log_return") -> Alert:
    return Alert(
        AlertType.DRIFT, AlertSeverity.HIGH, title, "window 2024-01-24", details={"psi": 0.41}
    )


def test_flaky_receiver_gets_the_alert_exactly_once_and_signed(
    config, receiver, monkeypatch
) -> None:
    monkeypatch.setenv("FINML_ALERT_WEBHOOK_SECRET", SECRET)
    tables = DeltaTables.from_config(config, None)
    waits: list[float] = []
    settings = AlertSettings(webhooks=[receiver.url], max_attempts=4, backoff_seconds=0.01)
    manager = AlertManager(settings, tables, sleep=waits.append)
    rows = manager.send(_alert())
    assert receiver.attempts == 3 and len(receiver.received) == 1
    headers, payload = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), receiver.raw, hashlib.sha256).hexdigest()
    assert headers["X-FinML-Signature"] == expected
    assert payload["alert_type"] == "DRIFT" and payload["details"] == {"psi": 0.41}
    assert waits == [0.01, 0.02]  # exponential backoff between the three attempts
    stored = tables.table("alerts").to_arrow().to_pylist()
    assert [(r["status"], r["attempts"]) for r in stored] == [("delivered", 3)]
    assert rows[0]["alert_id"] == payload["alert_id"] == headers["X-FinML-Alert-Id"]
    # the same alert again within the dedup window is recorded, not re-sent
    assert manager.send(_alert())[0]["status"] == "deduplicated"
    assert len(receiver.received) == 1
    # and a fresh manager (new process) remembers the dedup window from the table
    assert AlertManager(settings, tables, sleep=waits.append).send(_alert())[0]["status"] == (
        "deduplicated"
    )


def test_dead_receiver_leaves_a_failed_record_that_can_be_retried(config) -> None:
    tables = DeltaTables.from_config(config, None)
    url = f"http://127.0.0.1:{_dead_port()}/hook"
    settings = AlertSettings(webhooks=[url], max_attempts=3, backoff_seconds=0.0, timeout_seconds=1)
    manager = AlertManager(settings, tables)
    rows = manager.send(_alert("dead"))
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 3
    stored = tables.table("alerts").to_arrow().to_pylist()
    assert len(stored) == 1 and stored[0]["status"] == "failed"
    assert "ConnectError" in stored[0]["last_error"] and stored[0]["destination"] == url
    # a failed delivery does not block the next one (no dedup on failures)
    assert manager.send(_alert("dead"))[0]["status"] == "failed"
    # later a receiver comes up at that address: retry_failed delivers each stored alert once
    healthy = Receiver(failures=0, port=int(url.split(":")[2].split("/")[0]))
    try:
        again = AlertManager(settings, tables).retry_failed()
        assert [r["status"] for r in again] == ["delivered", "delivered"]
        assert len(healthy.received) == 2
        assert AlertManager(settings, tables).retry_failed() == []  # nothing left to retry
    finally:
        healthy.server.shutdown()
    statuses = [r["status"] for r in tables.table("alerts").to_arrow().to_pylist()]
    assert sorted(statuses) == ["delivered", "delivered", "failed", "failed"]


def test_failed_alerts_can_be_redirected_to_a_replacement_webhook(config) -> None:
    tables = DeltaTables.from_config(config, None)
    dead = f"http://127.0.0.1:{_dead_port()}/hook"
    settings = AlertSettings(webhooks=[dead], max_attempts=1, timeout_seconds=1)
    AlertManager(settings, tables).send(_alert("redirect me"))
    replacement = Receiver(failures=0)
    try:
        manager = AlertManager(settings, tables)
        assert [r["status"] for r in manager.retry_failed([replacement.url])] == ["delivered"]
        assert manager.retry_failed([replacement.url]) == []
        assert [p["title"] for _, p in replacement.received] == ["redirect me"]
    finally:
        replacement.server.shutdown()


def test_client_error_is_final_and_server_error_is_retried() -> None:
    rejecting, flaky = Receiver(failures=100, status=400), Receiver(failures=100, status=503)
    try:
        for receiver, attempts in ((rejecting, 1), (flaky, 5)):
            settings = AlertSettings(webhooks=[receiver.url], max_attempts=5, backoff_seconds=0)
            rows = AlertManager(settings, None).send(_alert())
            assert rows[0]["status"] == "failed" and rows[0]["attempts"] == attempts
            assert receiver.attempts == attempts
            assert rows[0]["last_error"].startswith(f"HTTP {receiver.status}")
    finally:
        rejecting.server.shutdown()
        flaky.server.shutdown()
