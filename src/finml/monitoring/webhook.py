"""Webhook delivery: JSON body, optional HMAC-SHA256 signature, retries with backoff; the
Slack incoming-webhook payload of an alert (:func:`slack_payload`).

The signature header carries ``sha256=<hex HMAC of the exact body bytes>`` keyed with the
secret from ``FINML_ALERT_WEBHOOK_SECRET``; receivers recompute it to authenticate. Each
request also carries ``X-FinML-Alert-Id`` so a receiver can drop a retry it already took.
Connection errors, timeouts, 429 and 5xx are retried (``max_attempts`` in total, waiting
``backoff_seconds * backoff_factor ** (attempt - 1)`` between them); other 4xx are final.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from finml.monitoring.settings import AlertSettings


@dataclass(frozen=True)
class Delivery:
    """How delivering one body to one URL went."""

    url: str
    delivered: bool
    attempts: int
    last_error: str | None
    status_code: int | None


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex digest>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def deliver(
    url: str,
    body: bytes,
    alert_id: str,
    settings: AlertSettings,
    secret: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``body`` to ``url`` until a 2xx, a final 4xx, or ``max_attempts`` tries."""
    headers = {"Content-Type": "application/json", "X-FinML-Alert-Id": alert_id}
    if secret:
        headers[settings.signature_header] = sign(body, secret)
    error: str | None = None
    status: int | None = None
    with httpx.Client(timeout=settings.timeout_seconds, trust_env=False) as client:
        for attempt in range(1, settings.max_attempts + 1):
            try:
                response = client.post(url, content=body, headers=headers)
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(url, True, attempt, None, status)
                error = f"HTTP {status}: {response.text[:200]}"
                if not _retryable(status):
                    return Delivery(url, False, attempt, error, status)
            except httpx.HTTPError as exc:
                error, status = f"{type(exc).__name__}: {exc}"[:500], None
            if attempt < settings.max_attempts:
                sleep(settings.backoff_seconds * settings.backoff_factor ** (attempt - 1))
    return Delivery(url, False, settings.max_attempts, error, status)


_SLACK_MAX_TEXT = 2900  # a section's text is limited to 3000 characters
_SLACK_MAX_HEADER = 150
_SEVERITY_EMOJI = {"LOW": ":information_source:", "MEDIUM": ":warning:", "HIGH": ":rotating_light:"}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn reads ``&``, ``<`` and ``>`` as markup: escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook payload for ``alert`` (the JSON document of an alert).

    ``text`` is the notification's fallback; ``blocks``: a header (severity and title), a
    section with severity, type and the message, and a context line (source, dedup key,
    alert id, time) -- what an on-call person needs to ``finml alerts ack`` it.
    """
    severity, title = str(alert["severity"]), str(alert["title"])
    escalated = " (escalated)" if alert.get("escalated") else ""
    emoji = _SEVERITY_EMOJI.get(severity, ":fire:")
    message = _slack_escape(str(alert.get("message") or ""))[:_SLACK_MAX_TEXT]
    context = (
        f"{_slack_escape(str(alert['source']))} · dedup `{_slack_escape(str(alert['dedup_key']))}`"
        f" · alert `{alert['alert_id']}` · {alert['created_at']}"
    )
    return {
        "text": f"[{severity}]{escalated} {alert['alert_type']}: {title}",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": f"{severity}{escalated}: {title}"[:_SLACK_MAX_HEADER],
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Severity*\n{emoji} {severity}{escalated}"},
                    {"type": "mrkdwn", "text": f"*Type*\n{alert['alert_type']}"},
                ],
                "text": {"type": "mrkdwn", "text": f"*{_slack_escape(title)}*\n{message}"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }
