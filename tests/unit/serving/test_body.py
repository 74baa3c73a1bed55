"""Reading request bodies: JSON only (415) and a size limit counted on the bytes received
(413), driven through Starlette's real ``Request`` by an ASGI ``receive`` of our own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from finml.serving.body import is_json, read_body, require_json

LIMIT = 4_096


def request(headers: dict[str, str], chunks: list[bytes]) -> tuple[Request, list[int]]:
    """A request whose body arrives as ``chunks``; the list returned counts the chunks the
    app pulled."""
    pulled: list[int] = []

    async def receive() -> dict[str, Any]:
        pulled.append(1)
        i = len(pulled) - 1
        if i >= len(chunks):
            raise AssertionError("the body was read past its last chunk")
        return {"type": "http.request", "body": chunks[i], "more_body": i + 1 < len(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive), pulled


def status_of(call: Any) -> tuple[int, str, dict[str, str]]:
    with pytest.raises(HTTPException) as info:
        asyncio.run(call) if asyncio.iscoroutine(call) else call()
    return info.value.status_code, str(info.value.detail), dict(info.value.headers or {})


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/vnd.finml+json", True),
        ("text/plain", False),
        ("application/jsonx", False),
        ("multipart/form-data; boundary=x", False),
        ("json", False),
        ("", False),
        (None, False),
    ],
)
def test_json_content_types(content_type: str | None, ok: bool) -> None:
    assert is_json(content_type) is ok


def test_wrong_content_type_is_415_naming_it() -> None:
    req, _ = request({"content-type": "text/csv"}, [b"a,b"])
    assert status_of(lambda: require_json(req))[:2] == (
        415,
        "content-type: expected application/json, got text/csv",
    )


def test_body_within_the_limit_is_read_whole() -> None:
    req, pulled = request({}, [b"x" * 1000] * 4)
    assert asyncio.run(read_body(req, LIMIT)) == b"x" * 4000
    assert len(pulled) == 4


def test_a_lying_content_length_does_not_lift_the_limit() -> None:
    """The length is only a claim: bytes are counted as they arrive, and reading stops at the
    first chunk past the limit."""
    req, pulled = request({"content-length": "100"}, [b"x" * 2_000] * 50)
    status, detail, headers = status_of(read_body(req, LIMIT))
    assert (status, detail) == (
        413,
        f"request body: expected at most {LIMIT} bytes, got more than {LIMIT} received",
    )
    assert headers == {"Connection": "close"}
    assert len(pulled) == 3  # 2,000 + 2,000 + 2,000 > 4,096: the other 47 chunks stay unread


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    req, pulled = request({"content-length": str(10**10)}, [b"x"])
    status, detail, _ = status_of(read_body(req, LIMIT))
    assert (status, detail) == (
        413,
        f"request body: expected at most {LIMIT} bytes, got {10**10} declared",
    )
    assert pulled == []


def test_a_content_length_that_is_no_number_is_400() -> None:
    req, _ = request({"content-length": "12abc"}, [b"{}"])
    assert status_of(read_body(req, LIMIT))[:2] == (
        400,
        "content-length: expected a number, got '12abc'",
    )
