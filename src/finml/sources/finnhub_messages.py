"""Finnhub WebSocket messages -> what to land and what to reject (pure, no I/O).

The server sends ``{"type":"trade","data":[{"s","p","v","t","c"}, ...]}``, ``{"type":"ping"}``
and ``{"type":"error","msg":...}``. The collector checks the *shape* only — a readable JSON
object with a known type, trade elements that are objects carrying ``s``, ``p``, ``v``, ``t``.
Value checks (positive price, finite numbers, timestamps not in the future) stay with silver's
expectations, so a strange but well-formed trade lands in bronze and is quarantined there with
its rule, exactly as for any other source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

REQUIRED_FIELDS = ("s", "p", "v", "t")
RAW_KEEP_CHARS = 10_000  # rejected payloads are kept up to this size


@dataclass(frozen=True)
class Parsed:
    """One received message, classified.

    ``kind`` is ``trade``, ``ping`` or ``rejected``; ``line`` is the JSON line to land
    (the original text when the whole message is valid), ``trades`` how many trades it holds,
    ``rejected`` the (reason, raw text) pairs to keep for inspection.
    """

    kind: str
    line: str | None = None
    trades: int = 0
    rejected: tuple[tuple[str, str], ...] = ()


def _reject(reason: str, raw: str) -> Parsed:
    return Parsed("rejected", rejected=((reason, raw[:RAW_KEEP_CHARS]),))


def parse_message(message: str | bytes, max_bytes: int = 1_048_576) -> Parsed:
    """Classify one WebSocket message (text or binary frame)."""
    if isinstance(message, bytes):
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            return _reject("not_utf8", message.decode("utf-8", errors="replace"))
    else:
        text = message
    if len(text) > max_bytes:
        return _reject("too_large", text)
    try:
        body = json.loads(text)
    except ValueError:
        return _reject("malformed_json", text)
    if not isinstance(body, dict):
        return _reject("not_an_object", text)
    kind = body.get("type")
    if kind == "ping":
        return Parsed("ping")
    if kind == "trade":
        return _trade(body, text)
    if kind == "error":
        return _reject("server_error", text)
    if not isinstance(kind, str):
        return _reject("missing_type", text)
    return _reject(f"unexpected_type:{kind[:40]}", text)


def _trade(body: dict, text: str) -> Parsed:
    data = body.get("data")
    if not isinstance(data, list):
        return _reject("data_not_an_array", text)
    good, bad = [], []
    for element in data:
        reason = _element_problem(element)
        if reason is None:
            good.append(element)
        else:
            bad.append((reason, json.dumps({"type": "trade", "data": [element]})))
    if not good:
        return Parsed("rejected" if bad else "trade", rejected=tuple(bad))
    if bad or "\n" in text or "\r" in text:
        # Re-serialise: only the valid elements, and always on one line (JSON Lines).
        line = json.dumps({"type": "trade", "data": good}, separators=(",", ":"))
    else:
        line = text.strip()
    return Parsed("trade", line=line, trades=len(good), rejected=tuple(bad))


def _element_problem(element: object) -> str | None:
    if not isinstance(element, dict):
        return "trade_not_an_object"
    get = element.get
    if (
        get("s") is not None
        and get("p") is not None
        and get("v") is not None
        and get("t") is not None
    ):
        return None  # the common case, without building a list
    missing = [f for f in REQUIRED_FIELDS if element.get(f) is None]
    return f"missing_fields:{','.join(missing)}" if missing else None


def subscribe(symbol: str) -> str:
    """The subscribe message for ``symbol``."""
    return json.dumps({"type": "subscribe", "symbol": symbol})


def unsubscribe(symbol: str) -> str:
    """The unsubscribe message for ``symbol``."""
    return json.dumps({"type": "unsubscribe", "symbol": symbol})
