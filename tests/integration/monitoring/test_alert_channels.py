"""Alert channels against real servers on 127.0.0.1: an SMTP server (aiosmtpd) for email, an
HTTP server for Slack-format webhooks; escalation routed to an extra channel; secrets kept
out of rows, errors and logs (an SMTP login refused in a separate process logging at DEBUG).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.settings import AlertSettings
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct-horse-battery-staple-7"
WEBHOOK_SECRET = "webhook-hmac-key-42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An SMTP server on 127.0.0.1 keeping what it receives; with ``accept_login`` set it
    offers AUTH without TLS and answers a login with ``accept_login(user, password)``."""

    def __init__(self, accept_login: Any = None, reply: str | None = None) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.logins: list[str] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
                mailbox.messages.append((envelope, message_from_bytes(envelope.content)))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
            user, password = data.login.decode(), data.password.decode()
            mailbox.logins.append(user)
            return AuthResult(success=accept_login(user, password), handled=False, message=reply)

        self.port = _free_port()
        extra = {}
        if accept_login is not None:
            extra = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **extra)
        self.controller.start()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.controller.stop()


class Hook:
    """An HTTP server on 127.0.0.1 recording each JSON body posted to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/xyz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    made = [Hook(), Hook()]
    yield made
    for hook in made:
        hook.server.shutdown()


def _alert(title: str = "psi 0.41 on log_return", **extra: Any) -> Alert:
    return Alert(
        AlertType.DRIFT,
        AlertSeverity.HIGH,
        title,
        "window 2024-01-24: 3 of 5 columns drifted",
        details={"psi": 0.41},
        **extra,
    )


def _email(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "email",
        "name": "oncall-mail",
        "host": "127.0.0.1",
        "port": port,
        "from": "finml@example.com",
        "to": ["oncall@example.com", "risk@example.com"],
        "starttls": False,
        **extra,
    }


def test_email_alert_reaches_the_smtp_server(config, mailbox) -> None:
    tables = DeltaTables.from_config(config, None)
    settings = AlertSettings.model_validate({"channels": [_email(mailbox.port)]})
    alert = _alert()
    rows = AlertManager(settings, tables).send(alert)
    assert [(r["status"], r["destination"], r["attempts"]) for r in rows] == [
        ("delivered", "oncall-mail", 1)
    ]
    [(envelope, message)] = mailbox.messages
    assert envelope.mail_from == "finml@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "risk@example.com"]
    assert message["Subject"] == "[FinML HIGH] psi 0.41 on log_return"
    assert message["X-FinML-Alert-Id"] == alert.alert_id
    body = message.get_payload(decode=True).decode()
    assert "HIGH DRIFT alert: psi 0.41 on log_return" in body
    assert "3 of 5 columns drifted" in body and alert.alert_id in body
    assert f"finml alerts ack {alert.alert_id}" in body
    stored = tables.table("alerts").to_arrow().to_pylist()
    assert [(r["status"], r["destination"]) for r in stored] == [("delivered", "oncall-mail")]


def test_email_logs_in_with_the_password_from_the_environment(config) -> None:
    box = Mailbox(accept_login=lambda user, password: (user, password) == ("finml", PASSWORD))
    try:
        channel = _email(box.port, username="finml", auth_env="FINML_SMTP_PASSWORD")
        settings = AlertSettings.model_validate({"channels": [channel]})
        environ = {"FINML_SMTP_PASSWORD": PASSWORD}
        rows = AlertManager(settings, None, environ=environ).send(_alert())
        assert rows[0]["status"] == "delivered" and box.logins == ["finml"]
        assert len(box.messages) == 1
        # unset, the channel fails at once and says which variable is missing
        rows = AlertManager(settings, None, environ={}).send(_alert("another"))
        assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 0
        assert rows[0]["last_error"] == (
            "environment variable FINML_SMTP_PASSWORD: expected the SMTP password, found it unset"
        )
    finally:
        box.controller.stop()


_REFUSED_LOGIN = """
import json, sys
from finml.config import ProjectConfig
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.settings import AlertSettings
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

settings = AlertSettings.model_validate(json.loads(sys.argv[1]))
tables = DeltaTables.from_config(ProjectConfig(home=sys.argv[2]), None)
rows = AlertManager(settings, tables).send(Alert(AlertType.ERROR, AlertSeverity.HIGH, "job x"))
print(json.dumps(rows, default=str))
"""


def test_a_refused_smtp_login_keeps_the_password_out_of_errors_logs_and_tables(
    tmp_path: Path,
) -> None:
    # the server even echoes the password in its refusal: FinML still never shows it
    box = Mailbox(accept_login=lambda user, password: False, reply=f"535 nope {PASSWORD}")
    dead_hook = f"http://127.0.0.1:{_free_port()}/hook"
    try:
        channel = _email(box.port, username="finml", auth_env="FINML_SMTP_PASSWORD")
        settings = {"channels": [channel], "webhooks": [dead_hook], "max_attempts": 2}
        settings |= {"backoff_seconds": 0, "timeout_seconds": 2}
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "FINML_LOG_LEVEL": "DEBUG",
            "FINML_SMTP_PASSWORD": PASSWORD,
            "FINML_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        done = subprocess.run(
            [sys.executable, "-c", _REFUSED_LOGIN, json.dumps(settings), str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        box.controller.stop()
    assert done.returncode == 0, done.stderr
    rows = {r["destination"]: r for r in json.loads(done.stdout)}
    mail = rows["oncall-mail"]
    assert mail["status"] == "failed" and mail["attempts"] == 1  # a refused login is final
    assert mail["last_error"].startswith("SMTPAuthenticationError: (535")
    assert "***" in mail["last_error"] and set(box.logins) == {"finml"}
    assert rows[dead_hook]["status"] == "failed"
    assert '"alert_delivery"' in done.stderr  # the DEBUG log was on
    stored = DeltaTables.from_config(_config(tmp_path), None).table("alerts").to_arrow()
    for text in (done.stdout, done.stderr, json.dumps(stored.to_pylist(), default=str)):
        assert PASSWORD not in text and WEBHOOK_SECRET not in text


def _config(home: Path):
    from finml.config import ProjectConfig

    return ProjectConfig(home=home)


def test_slack_webhook_receives_text_and_blocks(hooks) -> None:
    slack = {"kind": "webhook", "name": "slack-risk", "format": "slack", "url_env": "SLACK_URL"}
    settings = AlertSettings.model_validate({"channels": [slack], "webhooks": [hooks[1].url]})
    alert = _alert("spread > 40 bps <AAPL> & MSFT")
    rows = AlertManager(settings, None, environ={"SLACK_URL": hooks[0].url}).send(alert)
    # the Slack URL came from the environment (it embeds a token): the row names the channel
    assert [r["destination"] for r in rows] == [hooks[1].url, "slack-risk"]
    assert {r["status"] for r in rows} == {"delivered"}
    [payload] = hooks[0].received
    assert payload["text"] == "[HIGH] DRIFT: spread > 40 bps <AAPL> & MSFT"
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "HIGH: spread > 40 bps <AAPL> & MSFT"},
    }
    assert section["type"] == "section"
    assert section["text"]["text"] == (
        "*spread &gt; 40 bps &lt;AAPL&gt; &amp; MSFT*\nwindow 2024-01-24: 3 of 5 columns drifted"
    )
    assert [f["text"] for f in section["fields"]] == [
        "*Severity*\n:rotating_light: HIGH",
        "*Type*\nDRIFT",
    ]
    assert context["type"] == "context"
    line = context["elements"][0]["text"]
    assert line.startswith("finml · dedup `DRIFT:finml:spread &gt; 40 bps &lt;AAPL&gt; &amp; MSFT`")
    assert f"alert `{alert.alert_id}`" in line
    # the JSON webhook beside it still gets FinML's own document
    assert hooks[1].received[0]["alert_id"] == alert.alert_id
    assert hooks[1].received[0]["escalated"] is False


def test_escalation_goes_to_the_extra_channel_only_when_escalated(hooks) -> None:
    pager = {"kind": "webhook", "name": "pager", "format": "slack", "url": hooks[1].url}
    escalation = {"after": 3, "within_minutes": 120, "severity": "CRITICAL", "channels": ["pager"]}
    settings = AlertSettings.model_validate(
        {"webhooks": [hooks[0].url], "channels": [pager], "escalation": escalation}
    )
    clock = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    manager = AlertManager(settings, None, now=lambda: clock[0])
    statuses = []
    for minutes in (0, 10, 20, 40):
        clock[0] = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        rows = manager.send(_alert())
        statuses.append([(r["destination"], r["status"], r["escalated"]) for r in rows])
    assert statuses == [
        [(hooks[0].url, "delivered", False)],
        [(None, "deduplicated", False)],  # within the dedup window, not yet escalating
        [(hooks[0].url, "delivered", True), ("pager", "delivered", True)],  # third firing
        [(None, "deduplicated", False)],  # escalated 20 minutes ago: not again
    ]
    assert [p["severity"] for p in hooks[0].received] == ["HIGH", "CRITICAL"]
    assert hooks[0].received[1]["escalated"] is True
    [page] = hooks[1].received
    assert page["text"] == "[CRITICAL] (escalated) DRIFT: psi 0.41 on log_return"
