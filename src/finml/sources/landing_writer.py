"""Write simulated data into the landing zone in the real sources' formats.

* ``trades/trades_<date>.jsonl`` — one Finnhub WebSocket trade message per line:
  ``{"type":"trade","data":[{"s":"AAPL","p":187.12,"v":100,"t":1704724200123,"c":["1"]}]}``,
  one file per trading day (lexical order = time order), with bad records mixed in.
* ``bars/daily_<SYMBOL>.csv`` — Alpha Vantage ``TIME_SERIES_DAILY`` CSV
  (``timestamp,open,high,low,close,volume``, newest first).
* ``_manifest.json`` — what was written: legit trades, records, and every bad record's file,
  line and kind, so the pipeline's reconciliation can be checked.

Same result and config -> the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from finml.config_simulator import BAD_RECORD_KINDS

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import date

    import pandas as pd

    from finml.config_simulator import SimulatorConfig
    from finml.sources.sim_result import SimulationResult

FUTURE_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


@dataclass
class LandingManifest:
    legit_trades: int = 0
    records: int = 0  # landing records: legit trades + added bad records (+ malformed lines)
    messages: int = 0
    lines: int = 0
    files: list[str] = field(default_factory=list)
    bad_counts: dict[str, int] = field(default_factory=dict)
    bad_records: list[tuple[str, int, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LandingManifest:
        data = json.loads(text)
        data["bad_records"] = [tuple(r) for r in data["bad_records"]]
        return cls(**data)


def _trade_json(symbol: str, price: Any, volume: Any, ts: int, cond: list[str]) -> str:
    return json.dumps(
        {"s": symbol, "p": price, "v": volume, "t": ts, "c": cond},
        separators=(",", ":"),
        allow_nan=True,
    )


def _elements(trades: pd.DataFrame) -> list[str]:
    cond = {1: '["1"]', 2: '["1","12"]'}
    return [
        f'{{"s":"{s}","p":{p!r},"v":{int(v)},"t":{t},"c":{cond[len(c)]}}}'
        for s, p, v, t, c in zip(
            trades["symbol"].tolist(),
            trades["price"].tolist(),
            trades["volume"].tolist(),
            trades["ts_ms"].tolist(),
            trades["conditions"].tolist(),
            strict=True,
        )
    ]


def _bad_element(kind: str, row: dict[str, Any], rng: np.random.Generator) -> str:
    s, p, v, t, c = row["symbol"], row["price"], int(row["volume"]), int(row["ts_ms"]), ["1"]
    if kind == "wrong_type":
        if rng.random() < 0.5:
            return _trade_json(s, "abc", v, t, c)
        return _trade_json(s, p, "lots", t, c)
    if kind == "nonpositive_price":
        return _trade_json(s, 0 if rng.random() < 0.5 else -p, v, t, c)
    if kind == "nan_inf":
        return _trade_json(s, [float("nan"), float("inf"), float("-inf")][rng.integers(3)], v, t, c)
    if kind == "missing_symbol":
        element = {"p": p, "v": v, "t": t, "c": c}
        if rng.random() < 0.5:
            element["s"] = ""
        return json.dumps(element, separators=(",", ":"))
    if kind == "future_timestamp":
        return _trade_json(s, p, v, FUTURE_MS + int(rng.integers(0, 10**9)), c)
    raise ValueError(kind)


def write_landing(
    result: SimulationResult,
    landing_dir: Path,
    config: SimulatorConfig,
    dates: Collection[date] | None = None,
) -> LandingManifest:
    """Write trades (JSONL), daily bars (CSV) and the manifest under ``landing_dir``.

    With ``dates`` only those days' trade files are written (each atomically, byte for
    byte what the whole market's landing holds), and no bars: a market delivered day by
    day (``finml replay``)."""
    rng = np.random.default_rng(config.seed + 1)
    trades_dir, bars_dir = Path(landing_dir) / "trades", Path(landing_dir) / "bars"
    trades_dir.mkdir(parents=True, exist_ok=True)
    bars_dir.mkdir(parents=True, exist_ok=True)
    manifest = LandingManifest(legit_trades=len(result.trades))
    elements = np.array(_elements(result.trades), dtype=object)
    day = _delivery_day(result, config, rng, manifest)
    extras = _extras(result, config, rng, elements)
    for index, trade_date in enumerate(result.trading_dates):
        name = f"trades_{trade_date.isoformat()}.jsonl"
        mine = [str(e) for e in elements[day == index]]
        lines = _messages(
            mine, extras.get(index, []), config.trades_per_message, rng, name, manifest
        )
        if dates is not None and trade_date not in dates:
            continue  # generated all the same: the random stream of later days must not move
        partial = trades_dir / f".{name}.tmp"
        partial.write_text("".join(line + "\n" for line in lines))
        partial.replace(trades_dir / name)
        manifest.files.append(f"trades/{name}")
        manifest.lines += len(lines)
    if dates is None:
        _write_bars(result, bars_dir, manifest)
    manifest.bad_counts = {k: manifest.bad_counts.get(k, 0) for k in BAD_RECORD_KINDS}
    manifest.records = manifest.legit_trades + sum(
        n for k, n in manifest.bad_counts.items() if k != "out_of_order"
    )
    (Path(landing_dir) / "_manifest.json").write_text(manifest.to_json())
    return manifest


def _delivery_day(
    result: SimulationResult,
    config: SimulatorConfig,
    rng: np.random.Generator,
    manifest: LandingManifest,
) -> np.ndarray:
    """The file (day) each legit trade is delivered in: out-of-order trades come a day late."""
    day = result.day_index.copy()
    eligible = np.flatnonzero(day < len(result.trading_dates) - 1)
    late = rng.choice(
        eligible,
        size=min(rng.binomial(day.size, config.bad_records.out_of_order), eligible.size),
        replace=False,
    )
    day[late] += 1
    manifest.bad_counts["out_of_order"] = int(late.size)
    return day


def _extras(
    result: SimulationResult,
    config: SimulatorConfig,
    rng: np.random.Generator,
    elements: np.ndarray,
) -> dict[int, list[tuple[str, str]]]:
    """Bad records to add, as (kind, element-or-line) per delivery day."""
    n, last = len(result.trades), len(result.trading_dates) - 1
    extras: dict[int, list[tuple[str, str]]] = {}
    rates = config.bad_records
    for kind in (
        "wrong_type",
        "nonpositive_price",
        "nan_inf",
        "missing_symbol",
        "future_timestamp",
        "duplicate_trade",
        "malformed_json",
    ):
        count = int(rng.binomial(n, getattr(rates, kind)))
        sources = rng.integers(0, n, count)
        for source in sources.tolist():
            day = int(result.day_index[source])
            row = result.trades.iloc[source]
            if kind == "duplicate_trade":
                payload, day = str(elements[source]), min(day + int(rng.integers(0, 2)), last)
            elif kind == "malformed_json":
                full = '{"type":"trade","data":[' + str(elements[source]) + "]}"
                payload = full[: int(rng.integers(5, len(full) - 2))]
            else:
                payload = _bad_element(kind, row.to_dict(), rng)
            extras.setdefault(day, []).append((kind, payload))
    return extras


def _messages(
    elements: list[str],
    extras: list[tuple[str, str]],
    per_message: int,
    rng: np.random.Generator,
    name: str,
    manifest: LandingManifest,
) -> list[str]:
    """Chunk one day's elements into messages; place the day's bad records among them."""
    lines: list[tuple[str, str | None]] = [
        ('{"type":"trade","data":[' + ",".join(elements[i : i + per_message]) + "]}", None)
        for i in range(0, len(elements), per_message)
    ]
    manifest.messages += len(lines)
    for kind, payload in extras:
        line = payload if kind == "malformed_json" else '{"type":"trade","data":[' + payload + "]}"
        lines.insert(int(rng.integers(0, len(lines) + 1)), (line, kind))
        manifest.messages += kind != "malformed_json"
    for number, (_, bad) in enumerate(lines, start=1):
        if bad:
            manifest.bad_records.append((f"trades/{name}", number, bad))
            manifest.bad_counts[bad] = manifest.bad_counts.get(bad, 0) + 1
    return [line for line, _ in lines]


def _write_bars(result: SimulationResult, bars_dir: Path, manifest: LandingManifest) -> None:
    for symbol, bars in result.daily_bars.groupby("symbol", sort=True):
        newest_first = bars.sort_values("date", ascending=False)
        rows = ["timestamp,open,high,low,close,volume"]
        rows += [
            f"{d.isoformat()},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},{int(v)}"
            for d, o, h, lo, c, v in newest_first[
                ["date", "open", "high", "low", "close", "volume"]
            ].itertuples(index=False)
        ]
        path = bars_dir / f"daily_{symbol}.csv"
        path.write_text("\n".join(rows) + "\n")
        manifest.files.append(f"bars/{path.name}")
