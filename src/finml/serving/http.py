"""HTTP plumbing: request ids and timing (pure ASGI middleware), bearer-token auth, and
422 bodies that name the field and the reason."""

# No ``from __future__ import annotations``: FastAPI must resolve the dependency signature.

import hmac
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finml.serving.metrics import ServingMetrics

REQUEST_ID = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Gives every response an ``X-Request-ID`` (the client's if it is a safe token of at
    most 128 characters, else a new UUID) and records route, status and latency."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(route, status[0], time.perf_counter() - started)


def bearer_auth(token: str | None) -> Callable[..., Awaitable[None]]:
    """A dependency: 401 without a bearer token, 403 with a wrong one; open if ``token`` is
    None (the caller logs that)."""
    scheme = HTTPBearer(auto_error=False, description="FINML_API_TOKEN")
    expected = token.encode() if token else b""

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> None:
        if token is None:
            return
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "authorization: expected 'Bearer <token>', got none",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(403, "authorization: the bearer token is not valid")

    return check


def describe_errors(errors: list[dict[str, Any]]) -> list[str]:
    """One line per pydantic error: ``field 'x': <reason>, got <input>``."""
    lines = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        field = ".".join(loc) or "body"
        if err.get("type") == "missing":
            lines.append(f"field {field!r}: required, got nothing")
            continue
        reason = str(err.get("msg", "invalid")).lower()
        lines.append(f"field {field!r}: {reason}, got {_shown(err.get('input'))}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN/inf cannot be JSON; show them as text
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    lines = describe_errors(list(exc.errors()))
    return JSONResponse(
        {"detail": "invalid request: " + "; ".join(lines[:5]), "errors": lines}, status_code=422
    )


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc.detail), "errors": []},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
