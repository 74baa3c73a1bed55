"""Alert channels and the escalation policy (``monitoring.alerts.channels`` / ``.escalation``).

A channel is a webhook (``format: json`` -- FinML's document, HMAC-signed -- or ``slack``,
Slack's incoming-webhook payload) or an email through SMTP. Secrets are never config
values: the SMTP password is read from the environment variable named by ``auth_env``
and a webhook URL that embeds a token (Slack's does) can come from ``url_env``. (A config
key may not name a secret -- ``password``, ``token``, ... -- see :mod:`finml.config`.)

>>> EmailChannel.model_validate(
...     {"kind": "email", "name": "oncall", "host": "smtp.example.com",
...      "from": "finml@example.com", "to": ["oncall@example.com"]}).port
587
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from finml.settings_base import StrictModel
from finml.vocabulary import AlertSeverity

_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"expected an email address like name@example.com, got {value!r}")
    return value


class WebhookChannel(StrictModel):
    """An HTTP POST of each alert to ``url`` (or the URL in ``$url_env``)."""

    kind: Literal["webhook"]
    name: str = Field(pattern=_NAME)
    format: Literal["json", "slack"] = "json"
    url: str | None = Field(None, pattern=r"^https?://")
    url_env: str | None = Field(None, pattern=_ENV_NAME)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                "url: expected exactly one of url and url_env (an environment variable), "
                f"got {'both' if self.url else 'neither'}"
            )
        return self


class EmailChannel(StrictModel):
    """An email per alert through an SMTP server (``smtplib``)."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["email"]
    name: str = Field(pattern=_NAME)
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    username: str | None = Field(None, min_length=1)
    # the name of the environment variable holding the password, never the password
    auth_env: str | None = Field(None, pattern=_ENV_NAME)

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @model_validator(mode="after")
    def _login_complete(self) -> EmailChannel:
        if (self.username is None) != (self.auth_env is None):
            raise ValueError(
                "auth_env: expected both username and auth_env (or neither), "
                f"got {'username' if self.username else 'auth_env'} only"
            )
        return self


AlertChannel = Annotated[WebhookChannel | EmailChannel, Field(discriminator="kind")]


class Escalation(StrictModel):
    """An alert whose dedup key fired ``after`` times within ``within_minutes`` is sent
    again at once (past the dedup window) with ``severity`` (if higher) and also to
    ``channels``; then not again for ``within_minutes``. An acknowledgement stops it."""

    after: int = Field(ge=2)
    within_minutes: float = Field(gt=0)
    severity: AlertSeverity | None = None
    channels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _does_something(self) -> Escalation:
        if self.severity is None and not self.channels:
            raise ValueError("escalation: expected a severity, channels or both, got neither")
        return self
