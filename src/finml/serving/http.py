"""HTTP plumbing: request ids and timing (pure ASGI middleware), bearer-token auth, lean
routes for the hot paths, and 422 bodies that name the field and the reason."""

# No ``from __future__ import annotations``: FastAPI must resolve the dependency signature.

import hmac
import math
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
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
        request_id = given if _VALID_ID.match(given) else new_request_id()
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


def new_request_id() -> str:
    """A random version-4 UUID as 32 hex digits.

    ``uuid.uuid4()`` asks the kernel for 16 random bytes on every call, a system call per
    request; an id only has to be unique, not secret, so the random module (seeded from the
    OS, reseeded in a forked child) supplies the bits.
    """
    return uuid.UUID(int=random.getrandbits(128), version=4).hex


class BearerAuth:
    """The bearer-token check: 401 without a bearer token, 403 with a wrong one; open if
    ``token`` is None (the caller logs that).

    :meth:`dependency` guards FastAPI routes (and documents the scheme in OpenAPI); the lean
    routes call the instance directly with their request: one check, two doors.
    """

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.scheme = HTTPBearer(auto_error=False, description="FINML_API_TOKEN")
        self._expected = token.encode() if token else b""

    async def __call__(self, request: Request) -> None:
        if self.token is not None:
            self.check(await self.scheme(request))

    def check(self, credentials: HTTPAuthorizationCredentials | None) -> None:
        if self.token is None:
            return
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "authorization: expected 'Bearer <token>', got none",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode(), self._expected):
            raise HTTPException(403, "authorization: the bearer token is not valid")

    def dependency(self) -> Callable[..., Awaitable[None]]:
        """The check as a FastAPI dependency."""

        async def check(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(self.scheme)],
        ) -> None:
            self.check(credentials)

        return check


def lean_route(handler: Callable[[Request], Coroutine[Any, Any, Response]]) -> type[APIRoute]:
    """A route class (``route_class_override``) for a route that FastAPI documents from its
    declared endpoint — body model, response model, auth dependency — but ``handler`` serves.

    FastAPI's own route class solves dependencies, parses and validates the body and builds
    the response on every request: ~0.2 ms, as much as scoring one record. ``handler`` does
    its own auth, parsing and serialisation and returns the Response; middleware, routing,
    405s and the exception handlers stay FastAPI's. (Custom route classes are FastAPI's
    documented extension point: ``APIRoute.get_route_handler``.)
    """

    class LeanRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            return handler

    return LeanRoute


def describe_errors(errors: list[dict[str, Any]]) -> list[str]:
    """One line per pydantic error: ``field 'x': <reason>, got <input>``."""
    lines = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        field = ".".join(loc) or "body"
        if err.get("type") == "missing":
            lines.append(f"field {field!r}: required, got nothing")
            continue
        lines.append(f"field {field!r}: {_reason(err)}, got {_shown(err.get('input'))}")
    return lines


def _reason(err: dict[str, Any]) -> str:
    """pydantic's message, except for a feature's bound, which it prints as a 39-digit
    integer: here the bound reads as the float it is."""
    ctx = err.get("ctx") or {}
    if err.get("type") == "less_than_equal" and "le" in ctx:
        return f"expected a number of magnitude at most {float(ctx['le'])!r}"
    if err.get("type") == "greater_than_equal" and "ge" in ctx:
        return f"expected a number of magnitude at most {-float(ctx['ge'])!r}"
    return str(err.get("msg", "invalid")).lower()


_JSON_CONSTANTS = {True: "true", False: "false", None: "null"}


def _shown(value: Any) -> str:
    """The input as the client wrote it, where that is clear (true, null, 1e+39), cut at 80."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN/inf cannot be JSON; show them as text
    if isinstance(value, dict):
        return "an object"
    if value is None or isinstance(value, bool):
        return _JSON_CONSTANTS[value]
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    lines = describe_errors(list(exc.errors()))
    return JSONResponse(
        {"detail": "invalid request: " + "; ".join(lines[:5]), "errors": lines}, status_code=422
    )


async def contract_error(request: Request, exc: Exception) -> JSONResponse:
    """A model that broke the scoring contract: 500 with the reason, as JSON."""
    return JSONResponse({"detail": str(exc), "errors": []}, status_code=500)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc.detail), "errors": []},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
