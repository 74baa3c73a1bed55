"""Reading a request body safely: JSON only (415), and at most ``limit`` bytes (413).

The limit holds while the body arrives, not after: a declared ``Content-Length`` above it is
refused before one byte is read, and the bytes actually received are counted chunk by chunk
from the ASGI ``receive`` stream (a chunked upload has no length, and a declared length is
only a claim), so reading stops at the first chunk past the limit. Either way the 413 asks
the server to close the connection (``Connection: close``), so the unread rest of an
oversized upload is never read.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

JSON = "application/json"
CLOSE = {"Connection": "close"}


def require_json(request: Request) -> None:
    """Accept ``application/json`` and ``application/*+json`` (any parameters).

    Raises:
        HTTPException: 415 naming the content type received.
    """
    given = request.headers.get("content-type")
    if not is_json(given):
        raise HTTPException(415, f"content-type: expected {JSON}, got {given or 'none'}")


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, as FastAPI decides it."""
    if not content_type:
        return False
    kind = content_type.partition(";")[0].strip().lower()
    main, slash, sub = kind.partition("/")
    return main == "application" and slash == "/" and (sub == "json" or sub.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read from the ASGI stream, if it is at most ``limit`` bytes.

    Raises:
        HTTPException: 413 (with ``Connection: close``) as soon as the declared length or the
            bytes received exceed ``limit``; 400 for a ``Content-Length`` that is no number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(400, f"content-length: expected a number, got {declared!r}")
        if int(declared) > limit:
            raise _too_large(limit, f"{int(declared)} declared")
    chunks, received = [], 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit, f"more than {limit} received")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, got: str) -> HTTPException:
    return HTTPException(
        413, f"request body: expected at most {limit} bytes, got {got}", headers=CLOSE
    )
