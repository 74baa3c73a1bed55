"""Finnhub collector throughput vs a bare WebSocket client, measured in the same run.

A loopback server sends N trades (5 per message, as fast as it can) and closes. Baseline: a
bare ``websockets`` client that receives every message and appends it to one file. Ours:
``FinnhubCollector`` — parse and check each message, buffer, land atomic JSONL files by size.
Both read the same bytes from the same server; the ratio is the collector's own overhead.
Aim: <= 2.0x (the real feed peaks at a few thousand trades/s, far below either).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import console, parser, progress, report, timed

PER_MESSAGE = 5


def messages(rows: int) -> list[str]:
    out = []
    for i in range(0, rows, PER_MESSAGE):
        data = [
            {"s": "AAPL", "p": 100 + (i + j) % 97 / 10, "v": 1 + j, "t": 1_704_724_200_000 + i + j}
            for j in range(PER_MESSAGE)
        ]
        out.append(json.dumps({"type": "trade", "data": data}, separators=(",", ":")))
    return out


async def serve_once(payload: list[str]):
    from websockets.asyncio.server import serve

    async def handler(ws) -> None:
        await ws.recv()  # the subscribe
        for message in payload:
            await ws.send(message)
        await ws.close()

    return await serve(handler, "127.0.0.1", 0, ping_interval=None, max_queue=None)


async def bare_client(payload: list[str], out: Path) -> int:
    from websockets.asyncio.client import connect

    server = await serve_once(payload)
    port = server.sockets[0].getsockname()[1]
    count = 0
    with out.open("w") as handle:
        async with connect(f"ws://127.0.0.1:{port}", ping_interval=None) as ws:
            await ws.send('{"type":"subscribe","symbol":"AAPL"}')
            async for message in ws:
                handle.write(f"{message}\n")
                count += 1
    server.close()
    return count


async def collector_run(payload: list[str], landing: Path, rows: int) -> int:
    from pydantic import SecretStr

    from finml.config_collectors import FinnhubSettings
    from finml.sources.finnhub import FinnhubCollector

    server = await serve_once(payload)
    port = server.sockets[0].getsockname()[1]
    settings = FinnhubSettings(
        url=f"ws://127.0.0.1:{port}", symbols=["AAPL"], flush_max_trades=5000, backoff_base_s=0.01
    )
    collector = FinnhubCollector(settings, landing, SecretStr("bench"))

    async def stop_when_done() -> None:
        while collector.report.trades < rows:
            await asyncio.sleep(0.005)
        collector.stop()

    watcher = asyncio.create_task(stop_when_done())
    await collector.run(None)
    await watcher
    server.close()
    return collector.report.trades


def main(argv: list[str] | None = None) -> int:
    args = parser(
        __doc__.splitlines()[0], "python benchmarks/collectors.py --rows 200000", 200_000
    ).parse_args(argv)
    rows = args.rows - args.rows % PER_MESSAGE
    payload = messages(rows)
    root = Path(tempfile.mkdtemp(prefix="finml-bench-collect-"))

    def fresh() -> None:
        shutil.rmtree(root / "landing", ignore_errors=True)
        (root / "landing").mkdir()

    with progress() as bar:
        task = bar.add_task(f"finnhub collector, {rows:,} trades", total=2 * args.repeat)
        kw = {"rows": rows, "repeat": args.repeat, "bar": bar, "task": task, "setup": fresh}
        base = timed(
            "bare websockets client",
            work=lambda: asyncio.run(bare_client(payload, root / "landing" / "raw.jsonl")),
            **kw,
        )
        ours = timed(
            "FinnhubCollector",
            work=lambda: asyncio.run(collector_run(payload, root / "landing", rows)),
            **kw,
        )
    files = list((root / "landing" / "trades").glob("*.jsonl"))
    landed = sum(len(json.loads(x)["data"]) for f in files for x in f.read_text().splitlines())
    console.print(f"last run landed {landed:,} trades in {len(files)} file(s)")
    report("Finnhub collector", [(ours, base, 2.0)], args.out, {"rows": rows, "files": len(files)})
    shutil.rmtree(root, ignore_errors=True)
    return 0 if landed == rows else 1


if __name__ == "__main__":
    sys.exit(main())
