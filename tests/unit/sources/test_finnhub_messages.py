"""Finnhub message classification: what lands, what is rejected and why."""

from __future__ import annotations

import json

import pytest

from finml.sources.finnhub_messages import parse_message, subscribe, unsubscribe

TRADE = '{"type":"trade","data":[{"s":"AAPL","p":187.1,"v":100,"t":1704724200123,"c":["1"]}]}'


def test_a_valid_trade_message_lands_as_received() -> None:
    parsed = parse_message(TRADE)
    assert (parsed.kind, parsed.line, parsed.trades, parsed.rejected) == ("trade", TRADE, 1, ())


def test_binary_frames_and_multiline_json_land_as_one_line() -> None:
    pretty = json.dumps(json.loads(TRADE), indent=2)
    for message in (TRADE.encode(), pretty):
        parsed = parse_message(message)
        assert parsed.trades == 1 and "\n" not in parsed.line
        assert json.loads(parsed.line) == json.loads(TRADE)


def test_ping_is_counted_not_landed() -> None:
    assert parse_message('{"type":"ping"}').kind == "ping"
    assert parse_message('{"type":"ping"}').line is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("{not json", "malformed_json"),
        (b"\xff\xfe", "not_utf8"),
        ("[1,2]", "not_an_object"),
        ('{"data":[]}', "missing_type"),
        ('{"type":"news"}', "unexpected_type:news"),
        ('{"type":"error","msg":"Invalid symbol"}', "server_error"),
        ('{"type":"trade","data":{"s":"AAPL"}}', "data_not_an_array"),
        ('{"type":"trade","data":[7]}', "trade_not_an_object"),
        ('{"type":"trade","data":[{"s":"AAPL","p":1,"v":null}]}', "missing_fields:v,t"),
        ("x" * 2000, "too_large"),
    ],
)
def test_malformed_messages_are_rejected_with_their_reason(message, reason: str) -> None:
    parsed = parse_message(message, max_bytes=1024)
    assert parsed.kind == "rejected" and parsed.line is None and parsed.trades == 0
    assert [r for r, _ in parsed.rejected] == [reason]


def test_a_partly_bad_message_lands_its_good_trades_and_rejects_the_rest() -> None:
    good = {"s": "MSFT", "p": 1.0, "v": 2, "t": 3}
    message = json.dumps({"type": "trade", "data": [good, {"s": "MSFT"}, good]})
    parsed = parse_message(message)
    assert parsed.kind == "trade" and parsed.trades == 2
    assert json.loads(parsed.line) == {"type": "trade", "data": [good, good]}
    ((reason, raw),) = parsed.rejected
    assert reason == "missing_fields:p,v,t" and json.loads(raw)["data"] == [{"s": "MSFT"}]


def test_value_checks_are_left_to_silver() -> None:
    odd = '{"type":"trade","data":[{"s":"AAPL","p":-5,"v":"lots","t":1}]}'
    assert parse_message(odd).trades == 1


def test_empty_trade_message_lands_nothing() -> None:
    parsed = parse_message('{"type":"trade","data":[]}')
    assert (parsed.kind, parsed.line, parsed.rejected) == ("trade", None, ())


def test_subscription_messages() -> None:
    assert json.loads(subscribe("AAPL")) == {"type": "subscribe", "symbol": "AAPL"}
    assert json.loads(unsubscribe("AAPL")) == {"type": "unsubscribe", "symbol": "AAPL"}
