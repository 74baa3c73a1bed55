"""``finml collect`` as a real process against loopback servers: secrets never leak into
output, logs, landing or rejected files, SIGTERM stops gracefully with a final flush."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from collector_servers import AlphaVantageServer, FinnhubServer, trade_message

REPO = Path(__file__).resolve().parents[3]
FH_KEY, AV_KEY = "fh-cli-key-5d1e9", "av-cli-key-0b77c"
# Registers the collect sub-app when the main CLI does not (yet) do so itself.
ENTRY = (
    "from finml.cli import app, main\n"
    "from finml.cli import collect\n"
    "if not any(g.name == 'collect' for g in app.registered_groups):\n"
    "    collect.register(app)\n"
    "main()\n"
)


def finml_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FINML_HOME": str(home),
        "PYTHONPATH": str(REPO / "src"),
        "FINNHUB_API_KEY": FH_KEY,
        "ALPHAVANTAGE_API_KEY": AV_KEY,
        "FINML_LOG_LEVEL": "DEBUG",
        "FINML_LOG_FORMAT": "json",
    }


def finml(*args: str, home: Path, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=REPO,
        env=finml_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


FAST = """
collectors:
  finnhub: {backoff_base_s: 0.05, backoff_max_s: 0.2, open_timeout_s: 2}
  alphavantage: {backoff_base_s: 0.01, backoff_max_s: 0.05, throttle_wait_s: 0.05}
"""


def fast_settings(tmp_path: Path) -> str:
    path = tmp_path / "fast_collectors.yml"
    path.write_text(FAST)
    return str(path)


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def landed_trades(home: Path) -> list[tuple[str, int, float]]:
    return [
        (e["s"], e["t"], e["p"])
        for f in sorted((home / "landing" / "trades").glob("*.jsonl"))
        for line in f.read_text().splitlines()
        for e in json.loads(line)["data"]
    ]


def test_help_has_examples(tmp_path: Path) -> None:
    for command in ("finnhub", "alphavantage"):
        result = finml("collect", command, "--help", home=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Example: finml collect" in result.stdout


def test_finnhub_run_never_shows_the_key(tmp_path: Path) -> None:
    echo = json.dumps({"type": "error", "msg": f"Invalid token {FH_KEY}"})
    leak = json.dumps(
        {"type": "trade", "data": [{"s": "AAPL", "p": 1, "v": 1, "t": 9, "c": [FH_KEY]}]}
    )
    scripts = [
        [("send", trade_message("AAPL", 1_000, 3)), ("send", echo), ("send", leak), ("drop",)],
        [("send", trade_message("AAPL", 2_000, 2))],
    ]
    with FinnhubServer(scripts) as server:
        result = finml(
            "collect", "finnhub", "--symbols", "AAPL", "--duration", "2s", "--url", server.url,
            "--flush-interval", "0.2", "--json", "--settings", fast_settings(tmp_path),
            home=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"token={FH_KEY}" in server.paths[0]  # the key was used ...
    assert FH_KEY not in result.stdout + result.stderr  # ... and never shown
    assert "token=***" in result.stderr and "finnhub_connection_lost" in result.stderr
    assert files_containing(tmp_path, FH_KEY) == []
    report = json.loads(result.stdout)
    assert report["trades"] == 6 and report["reasons"] == {"server_error": 1}
    assert report["reconnects"] >= 1 and len(landed_trades(tmp_path)) == 6
    (kept,) = [
        json.loads(x) for f in report["rejected_files"] for x in Path(f).read_text().splitlines()
    ]
    assert kept["raw"] == json.dumps({"type": "error", "msg": "Invalid token ***"})


def test_finnhub_unreachable_fails_in_one_line_without_the_key(tmp_path: Path) -> None:
    with FinnhubServer([]) as server:
        url = server.url
    result = finml(
        "collect", "finnhub", "--duration", "0.5s", "--url", url,
        "--settings", fast_settings(tmp_path), home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: finnhub ws://127.0.0.1" in result.stderr and "token=***" in result.stderr
    assert FH_KEY not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_sigterm_stops_gracefully_with_a_final_flush(tmp_path: Path) -> None:
    script = [("send", trade_message(s, 1_000 + i * 10)) for i in range(20) for s in ("A", "B")]
    with FinnhubServer([script], expect_symbols=2) as server:
        process = subprocess.Popen(
            [sys.executable, "-c", ENTRY, "collect", "finnhub", "--symbols", "A,B",
             "--duration", "1h", "--url", server.url, "--flush-interval", "600"],
            cwd=REPO, env=finml_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while len(server.sent) < len(script) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert not list((tmp_path / "landing" / "trades").glob("*.jsonl"))  # still buffered
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        unsubscribed = sorted(server.unsubscribes[0])
    assert process.returncode == 0, err[-2000:]
    assert sorted(landed_trades(tmp_path)) == sorted(server.delivered_trades())
    assert len(landed_trades(tmp_path)) == 80 and unsubscribed == ["A", "B"]
    assert "80 trades in 1 file(s)" in out


def test_alphavantage_run_never_shows_the_key_and_fails_in_one_line(tmp_path: Path) -> None:
    scripts = {"AAPL": ["note", "500"], "BAD": ["echo_key_error"]}
    with AlphaVantageServer(scripts) as server:
        ok = finml(
            "collect", "alphavantage", "--symbols", "AAPL,MSFT", "--base-url", server.url,
            "--json", "--settings", fast_settings(tmp_path), home=tmp_path,
        )  # fmt: skip
        bad = finml(
            "collect", "alphavantage", "--symbols", "BAD", "--base-url", server.url,
            "--settings", fast_settings(tmp_path), home=tmp_path,
        )  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    report = json.loads(ok.stdout)
    assert report["rows"] == {"AAPL": 3, "MSFT": 3} and report["throttled"] == 1
    assert bad.returncode == 1 and "error: alphavantage: expected every symbol landed" in bad.stderr
    assert "the apikey *** is invalid" in bad.stderr
    everything = ok.stdout + ok.stderr + bad.stdout + bad.stderr
    assert AV_KEY not in everything and files_containing(tmp_path, AV_KEY) == []
    assert all(p["apikey"] == AV_KEY for _, p in server.requests)
