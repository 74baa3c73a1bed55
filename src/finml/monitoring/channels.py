"""Where an alert goes: the ``webhooks`` URLs and the named ``channels`` of the settings,
each delivered in its own format (FinML JSON, Slack, email).

A destination is recorded in ``alerts.destination`` as the URL of a ``webhooks`` entry or
the name of a channel -- never a URL read from the environment (it may embed a token) and
never a password.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from finml.monitoring.channel_settings import EmailChannel, WebhookChannel
from finml.monitoring.settings import AlertSettings
from finml.monitoring.smtp import send_email
from finml.monitoring.webhook import Delivery, deliver, slack_payload
from finml.secrets import SecretStore

Channel = WebhookChannel | EmailChannel


@dataclass(frozen=True)
class Destination:
    """One place an alert is delivered to: a ``webhooks`` URL (``channel`` None) or a
    named channel; ``escalation_only`` ones receive escalated sends only."""

    name: str
    channel: Channel | None = None
    escalation_only: bool = False


def destinations(settings: AlertSettings) -> list[Destination]:
    """Every destination of ``settings``: the ``webhooks`` URLs, then the channels."""
    extra = set(settings.escalation.channels) if settings.escalation else set()
    return [Destination(url) for url in settings.webhooks] + [
        Destination(c.name, c, c.name in extra) for c in settings.channels
    ]


def destination_named(settings: AlertSettings, name: str) -> Destination:
    """The channel called ``name``, else ``name`` taken as a JSON webhook URL."""
    for channel in settings.channels:
        if channel.name == name:
            return Destination(name, channel)
    return Destination(name)


class Sender:
    """Delivers an alert's JSON document to a destination.

    Args:
        settings: retry policy, timeouts, signature header.
        secret: the HMAC key of webhook bodies (None: unsigned).
        sleep: the backoff wait; ``environ``: where ``url_env`` / ``auth_env`` are read (a
            mapping, or a :class:`~finml.secrets.SecretStore`: the environment, then the
            encrypted secrets file; default the environment).
    """

    def __init__(
        self,
        settings: AlertSettings,
        secret: str | None,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | SecretStore | None = None,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.sleep = sleep
        source = os.environ if environ is None else environ
        self.lookup: Callable[[str], str | None] = (
            source.value if isinstance(source, SecretStore) else source.get
        )

    def send(self, destination: Destination, alert: dict[str, Any]) -> Delivery:
        """Deliver ``alert`` (see ``Alert.payload``) to ``destination``; never raises for a
        delivery problem (a missing environment variable is a failed delivery)."""
        channel = destination.channel
        if isinstance(channel, EmailChannel):
            password = self.lookup(channel.auth_env) if channel.auth_env else None
            if channel.auth_env and not password:
                return self._missing(destination, channel.auth_env, "the SMTP password")
            return send_email(channel, alert, self.settings, password, self.sleep)
        url = destination.name
        if channel is not None:
            url = channel.url or (self.lookup(channel.url_env) if channel.url_env else None) or ""
            if not url:
                return self._missing(destination, channel.url_env or "", "the webhook URL")
        document = slack_payload(alert) if channel and channel.format == "slack" else alert
        body = json.dumps(document, sort_keys=True, default=str).encode()
        result = deliver(url, body, alert["alert_id"], self.settings, self.secret, self.sleep)
        if channel is None or url == channel.url:
            return result
        # the URL came from the environment: it may carry a token, keep it out of the table
        error = result.last_error.replace(url, destination.name) if result.last_error else None
        return replace(result, url=destination.name, last_error=error)

    @staticmethod
    def _missing(destination: Destination, variable: str, what: str) -> Delivery:
        error = f"environment variable {variable}: expected {what}, found it unset"
        return Delivery(destination.name, False, 0, error, None)
