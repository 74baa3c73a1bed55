"""FinnhubCollector against a real WebSocket server on 127.0.0.1 that drops connections and
sends malformed messages."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from collector_servers import FinnhubServer, trade_message
from pydantic import SecretStr

from finml.config_collectors import FinnhubSettings
from finml.errors import CollectorError
from finml.sources.finnhub import FinnhubCollector

KEY = SecretStr("fh-test-key-7f3a")


def settings(url: str, **values: object) -> FinnhubSettings:
    base = {
        "url": url,
        "symbols": ["AAPL", "MSFT"],
        "flush_max_trades": 7,
        "flush_interval_s": 0.2,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.2,
        "open_timeout_s": 2,
    }
    return FinnhubSettings(**{**base, **values})


def landed(landing: Path) -> list[tuple[str, int, float]]:
    """(symbol, t, p) of every trade in the landed JSON lines."""
    out = []
    for file in sorted((landing / "trades").glob("*.jsonl")):
        text = file.read_text()
        assert text.endswith("\n"), f"{file} is not whole"
        for line in text.splitlines():
            out += [(e["s"], e["t"], e["p"]) for e in json.loads(line)["data"]]
    return out


def run(collector: FinnhubCollector, seconds: float):
    return asyncio.run(collector.run(seconds))


def burst(symbol: str, first_ms: int, messages: int) -> list[tuple[str, str]]:
    return [("send", trade_message(symbol, first_ms + 10 * i)) for i in range(messages)]


def test_dropped_connection_reconnects_resubscribes_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    scripts = [
        [
            *burst("AAPL", 1_000, 12),
            ("send", '{"type":"ping"}'),
            *burst("MSFT", 5_000, 5),
            ("drop",),
        ],
        [*burst("AAPL", 9_000, 4), ("abort",)],  # reset: queued frames may be lost
        [("sleep", 0.3), *burst("MSFT", 20_000, 9), ("drop",)],
        [*burst("AAPL", 30_000, 3)],
    ]
    with FinnhubServer(scripts, expect_symbols=2) as server:
        collector = FinnhubCollector(settings(server.url), tmp_path, KEY)
        report = run(collector, 3.0)
    got, sent = landed(tmp_path), server.delivered_trades()
    assert len(got) == len(set(got)), "a trade was landed twice"
    assert set(got) <= set(sent)
    # Every trade of the connections closed without a reset arrived and landed.
    must = {t for t in sent if not 9_000 <= t[1] < 10_000}
    assert must <= set(got), sorted(must - set(got))[:5]
    assert report.connections >= 4 and report.reconnects >= 3
    assert all(sorted(subs) == ["AAPL", "MSFT"] for subs in server.subscribes[:4])
    assert report.trades == len(got) and report.pings == 1
    assert len(report.files) >= 4 and not list((tmp_path / "trades").glob(".*"))


def test_malformed_messages_are_counted_kept_and_never_stop_the_collector(tmp_path: Path) -> None:
    partial = json.dumps(
        {"type": "trade", "data": [{"s": "AAPL", "p": 1.5, "v": 1, "t": 7}, {"s": "AAPL"}, 3]}
    )
    bad = [
        "not json at all",
        b"\xff\xfe\x00binary",
        '{"type":"trade","data":"oops"}',
        "[1, 2, 3]",
        '{"type":"news","data":[]}',
        '{"data":[]}',
        '{"type":"trade","data":[{"s":"AAPL","p":1',
        '{"type":"error","msg":"Invalid symbol ZZZZ"}',
        partial,
        '{"type":"trade","data":[' + "1," * 700 + "1]}",
    ]
    script = [*burst("AAPL", 1_000, 2), *[("send", b) for b in bad], *burst("AAPL", 2_000, 2)]
    with FinnhubServer([script], expect_symbols=2) as server:
        limited = settings(server.url, max_message_bytes=1024)
        report = run(FinnhubCollector(limited, tmp_path, KEY), 1.0)
    got = landed(tmp_path)
    assert sorted(got) == sorted([*server.delivered_trades()])
    assert ("AAPL", 7, 1.5) in got and len(got) == 9  # 4 messages x 2 + the valid element
    assert report.rejected == 11 and report.connections == 1 and report.reconnects == 0
    assert sorted(server.unsubscribes[0]) == ["AAPL", "MSFT"]  # at the end of the duration
    assert report.reasons == Counter(
        {
            "malformed_json": 2,
            "not_utf8": 1,
            "data_not_an_array": 1,
            "not_an_object": 1,
            "unexpected_type": 1,
            "missing_type": 1,
            "server_error": 1,
            "missing_fields": 1,
            "trade_not_an_object": 1,
            "too_large": 1,
        }
    )
    kept = [
        json.loads(line)
        for f in (tmp_path / "rejected").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert len(kept) == 11
    assert {"not json at all", '{"type":"news","data":[]}'} <= {k["raw"] for k in kept}
    assert all(k["reason"] and k["received_at"] and k["source"] == "finnhub" for k in kept)


def test_flushes_by_size_and_by_time(tmp_path: Path) -> None:
    script = [*burst("AAPL", 1_000, 10), ("sleep", 0.6), *burst("AAPL", 5_000, 1)]
    with FinnhubServer([script], expect_symbols=1) as server:
        s = settings(server.url, symbols=["AAPL"], flush_max_trades=6, flush_interval_s=0.3)
        collector = FinnhubCollector(s, tmp_path, KEY)
        run(collector, 1.5)
    sizes = [
        sum(len(json.loads(line)["data"]) for line in Path(f).read_text().splitlines())
        for f in collector.report.files
    ]
    # 20 trades in a burst -> full buffers of >= 6 trades; the lone 2-trade message arrives
    # after a pause and is landed by age alone, before the run ends.
    assert sum(sizes) == 22 and sizes[-1] == 2
    assert all(size >= 6 for size in sizes[:-2]) and len(sizes) >= 4


def test_unreachable_server_raises_without_the_token(tmp_path: Path) -> None:
    with FinnhubServer([]) as server:
        url = server.url  # the port is closed once the server stops
    collector = FinnhubCollector(settings(url), tmp_path, KEY)
    with pytest.raises(CollectorError) as caught:
        run(collector, 0.6)
    message = str(caught.value)
    assert "expected a WebSocket connection" in message and "token=***" in message
    assert KEY.get_secret_value() not in message
    assert collector.report.reconnects >= 1


def test_max_reconnects_bounds_the_retries(tmp_path: Path) -> None:
    with FinnhubServer([[("drop",)]] * 5, expect_symbols=2) as server:
        collector = FinnhubCollector(settings(server.url, max_reconnects=2), tmp_path, KEY)
        with pytest.raises(CollectorError, match="within 2 attempt"):
            run(collector, 5.0)
    assert collector.report.connections == 3


def test_a_refused_key_fails_at_once_without_retrying(tmp_path: Path) -> None:
    with FinnhubServer([], reject_status=401) as server:
        collector = FinnhubCollector(settings(server.url), tmp_path, KEY)
        with pytest.raises(CollectorError) as caught:
            run(collector, 5.0)
    assert str(caught.value) == (
        f"finnhub {server.url}?token=***: expected the API key (FINNHUB_API_KEY) to be "
        "accepted, got HTTP 401"
    )
    assert len(server.paths) == 1 and collector.report.reconnects == 0


def test_a_landing_write_failure_stops_the_run_with_the_error(tmp_path: Path) -> None:
    (tmp_path / "trades").write_text("a file where the folder should be")
    with FinnhubServer([burst("AAPL", 1_000, 1)], expect_symbols=2) as server:
        collector = FinnhubCollector(settings(server.url), tmp_path, KEY)
        started = time.monotonic()
        with pytest.raises(OSError, match="trades"):
            run(collector, 10.0)
    assert time.monotonic() - started < 5  # raised, not retried until the deadline
    assert collector.trades.count == 2  # still held, never half-written
