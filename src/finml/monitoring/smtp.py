"""Alert email through SMTP (``smtplib``): one plain-text message per alert and channel.

The password comes from the environment variable the channel names (``auth_env``) and is
used only for ``SMTP.login``: it is never logged, stored or put in an error (an error text
that contains it, e.g. echoed by a server, has it replaced by ``***``). Connection errors
and 4xx replies are retried like webhooks; an authentication failure and 5xx are final.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from finml.monitoring.channel_settings import EmailChannel
from finml.monitoring.settings import AlertSettings
from finml.monitoring.webhook import Delivery

_REDACTED = "***"


def email_message(channel: EmailChannel, alert: dict[str, Any]) -> EmailMessage:
    """The message of ``alert`` (its JSON document) for ``channel``'s recipients."""
    escalated = " (escalated)" if alert.get("escalated") else ""
    message = EmailMessage()
    message["Subject"] = f"[FinML {alert['severity']}{escalated}] {alert['title']}"
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2])
    message["X-FinML-Alert-Id"] = str(alert["alert_id"])
    details = json.dumps(alert.get("details") or {}, indent=2, sort_keys=True, default=str)
    message.set_content(
        f"{alert['severity']}{escalated} {alert['alert_type']} alert: {alert['title']}\n\n"
        f"{alert.get('message') or ''}\n\n"
        f"source:    {alert['source']}\n"
        f"dedup key: {alert['dedup_key']}\n"
        f"alert id:  {alert['alert_id']}\n"
        f"created:   {alert['created_at']}\n\n"
        f"details:\n{details}\n\n"
        f"Acknowledge: finml alerts ack {alert['alert_id']} --by <name>\n"
    )
    return message


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, OSError | smtplib.SMTPException)


def _redacted(text: str, password: str | None) -> str:
    return text.replace(password, _REDACTED) if password else text


def _send_once(
    channel: EmailChannel, message: EmailMessage, password: str | None, timeout: float
) -> None:
    with smtplib.SMTP(channel.host, channel.port, timeout=timeout) as smtp:
        if channel.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if channel.username is not None:
            smtp.login(channel.username, password or "")
        smtp.send_message(message)


def send_email(
    channel: EmailChannel,
    alert: dict[str, Any],
    settings: AlertSettings,
    password: str | None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send ``alert`` to ``channel`` until accepted, a final error, or ``max_attempts``."""
    message = email_message(channel, alert)
    error: str | None = None
    for attempt in range(1, settings.max_attempts + 1):
        try:
            _send_once(channel, message, password, settings.timeout_seconds)
            return Delivery(channel.name, True, attempt, None, None)
        except (OSError, smtplib.SMTPException) as exc:
            error = _redacted(f"{type(exc).__name__}: {exc}", password)[:500]
            if not _retryable(exc):
                return Delivery(channel.name, False, attempt, error, None)
        if attempt < settings.max_attempts:
            sleep(settings.backoff_seconds * settings.backoff_factor ** (attempt - 1))
    return Delivery(channel.name, False, settings.max_attempts, error, None)
