"""Bearer tokens with roles for the ``/mlops`` routes: ``read`` (GETs) and ``operate``
(POSTs, and every GET).

Tokens come from the environment only -- ``FINML_MLOPS_READ_TOKENS`` and
``FINML_MLOPS_OPERATE_TOKENS``, comma-separated entries ``name:token`` (or a bare
``token``, named ``read-1``, ``operate-2``, ...). The name is who the caller is in the audits
(``model_transitions.actor`` is ``api:<name>``); the token itself is kept only as its SHA-256
digest, compared in constant time, and never logged. With neither variable set nothing can
authenticate: every ``/mlops`` route answers 401 (closed, unlike the scoring routes).

401: no bearer token, or one that is not configured. 403: a ``read`` token on an
``operate`` route.
"""

# No ``from __future__ import annotations``: FastAPI must resolve the dependency signature.

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from finml.errors import ConfigError
from finml.log import get_logger

log = get_logger("serving.roles")

Role = Literal["read", "operate"]
READ_VARIABLE = "FINML_MLOPS_READ_TOKENS"
OPERATE_VARIABLE = "FINML_MLOPS_OPERATE_TOKENS"
MIN_TOKEN_CHARS = 16
_RANK = {"read": 0, "operate": 1}
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Caller:
    """Who called: the token's configured name and its role."""

    name: str
    role: Role

    @property
    def actor(self) -> str:
        """As recorded in audit tables."""
        return f"api:{self.name}"


def parse_tokens(value: str | None, role: Role, variable: str) -> list[tuple[bytes, Caller]]:
    """The ``(sha256 digest, caller)`` of each entry of ``value`` (see the module doc).

    Raises:
        ConfigError: an entry with an empty name, or a token shorter than 16 characters
            (named by variable and position, never by value).
    """
    entries = [e.strip() for e in (value or "").split(",") if e.strip()]
    parsed = []
    for index, entry in enumerate(entries, start=1):
        name, sep, token = entry.rpartition(":")
        if not sep:
            name = f"{role}-{index}"
        if not name or len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"environment variable {variable}, entry {index}: expected 'name:token' with "
                f"a token of at least {MIN_TOKEN_CHARS} characters, got "
                + ("an empty name" if not name else f"{len(token)} characters")
            )
        parsed.append((_digest(token), Caller(name, role)))
    return parsed


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class RoleAuth:
    """The check of the ``/mlops`` routes; :meth:`requires` gives a route's dependency."""

    def __init__(self, tokens: list[tuple[bytes, Caller]]) -> None:
        self._tokens = tokens
        self.scheme = HTTPBearer(
            auto_error=False,
            scheme_name="MLOpsBearer",
            description=f"A token of {READ_VARIABLE} (GETs) or {OPERATE_VARIABLE} (all routes)",
        )

    @classmethod
    def from_env(cls, lookup: Callable[[str], str | None] | None = None) -> "RoleAuth":
        """Tokens from ``FINML_MLOPS_READ_TOKENS`` and ``FINML_MLOPS_OPERATE_TOKENS``, looked
        up by ``lookup`` (a secret store's ``value``: the environment, then the SOPS file;
        default the environment only).

        Raises:
            ConfigError: a malformed entry (see :func:`parse_tokens`).
        """
        lookup = lookup or os.environ.get
        tokens = parse_tokens(lookup(READ_VARIABLE), "read", READ_VARIABLE)
        tokens += parse_tokens(lookup(OPERATE_VARIABLE), "operate", OPERATE_VARIABLE)
        if not tokens:
            log.warning("mlops_api_closed", reason=f"{READ_VARIABLE} and {OPERATE_VARIABLE} unset")
        return cls(tokens)

    @property
    def roles(self) -> dict[str, int]:
        """How many tokens each role has (for the log; no names, no tokens)."""
        counts = {"read": 0, "operate": 0}
        for _, caller in self._tokens:
            counts[caller.role] += 1
        return counts

    def caller(self, credentials: HTTPAuthorizationCredentials | None) -> Caller:
        """The caller holding ``credentials``, the highest role if a token is listed twice.

        Raises:
            HTTPException: 401 without a bearer token or with one not configured.
        """
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401, "authorization: expected 'Bearer <token>', got none", _CHALLENGE
            )
        given = _digest(credentials.credentials)
        found: Caller | None = None
        for digest, caller in self._tokens:  # every entry compared: no early exit
            if hmac.compare_digest(given, digest) and (
                found is None or _RANK[caller.role] > _RANK[found.role]
            ):
                found = caller
        if found is None:
            log.info("mlops_auth_refused", reason="unknown token")
            raise HTTPException(401, "authorization: the bearer token is not valid", _CHALLENGE)
        return found

    def requires(self, role: Role) -> Callable[..., Caller]:
        """A FastAPI dependency answering the caller, or 403 if its role is below ``role``."""

        def check(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(self.scheme)],
        ) -> Caller:
            caller = self.caller(credentials)
            if _RANK[caller.role] < _RANK[role]:
                log.info("mlops_auth_forbidden", caller=caller.name, needs=role)
                raise HTTPException(
                    403, f"authorization: expected a token with role {role!r}, got {caller.role!r}"
                )
            return caller

        return check
