"""Poison input never blocks ingestion: thousands of fuzzed landing inputs in one run.

Random bytes, broken and mutated JSON lines, truncated / mistyped / random Parquet files
and bars CSV with invalid bytes land next to known good trades. One medallion run must take
every good trade into silver exactly once, account for every bronze row (silver +
quarantine + duplicates), quarantine each unreadable file as one row naming it, and a
second run must change nothing.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from finml.config import ProjectConfig
from finml.pipelines.medallion import run_medallion
from finml.runtime.delta import DeltaTables

T = 1704724200000  # 2024-01-08 14:30 UTC
SEED = 20261130


def good_trade(i: int) -> dict:
    return {"s": f"SYM{i % 7}", "p": 100.0 + i % 13, "v": 1 + i % 5, "t": T + i * 1000, "c": ["1"]}


def message(*trades: dict) -> str:
    return json.dumps({"type": "trade", "data": list(trades)})


def mutate(line: str, rng: random.Random) -> bytes:
    data = bytearray(line.encode())
    kind = rng.randrange(5)
    if kind == 0:  # truncated
        return bytes(data[: rng.randrange(1, len(data))])
    if kind == 1:  # a byte that is not UTF-8 in the middle
        data[rng.randrange(len(data))] = rng.choice([0x80, 0xC3, 0xFE, 0xFF])
        return bytes(data)
    if kind == 2:  # random printable noise
        return bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80)))
    if kind == 3:  # random bytes, any value but a newline
        return bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(40))
    return rng.choice(  # well-formed JSON of the wrong shape
        [b"[]", b"{}", b'{"type":"trade"}', b'{"type":"trade","data":{}}', b"null", b'"x"']
    )


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_landing(landing: Path, rng: random.Random) -> tuple[set[tuple], set[str]]:
    """Fuzzed landing files; returns the good trades' identities and the files that
    cannot be read at all."""
    trades, bars = landing / "trades", landing / "bars"
    trades.mkdir(parents=True)
    bars.mkdir(parents=True)
    good: set[tuple] = set()
    unreadable: set[str] = set()
    number = 0
    for file in range(4):  # 4 JSONL files, 500 fuzzed lines and 50 good ones each
        lines: list[bytes] = []
        for _ in range(50):
            trade = good_trade(number)
            number += 1
            good.add((trade["s"], trade["t"], trade["p"], float(trade["v"])))
            lines.append(message(trade).encode())
        lines += [mutate(message(good_trade(rng.randrange(10**6))), rng) for _ in range(500)]
        rng.shuffle(lines)
        (trades / f"fuzz_{file}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    for file in range(300):  # Parquet: good, mistyped, truncated, random
        kind = file % 4
        rows = [good_trade(number + k) for k in range(3)]
        table = pa.table({k: [r[k] for r in rows] for k in ("s", "p", "v", "t", "c")})
        name = f"part_{file:03d}.parquet"
        if kind == 0:
            number += 3
            good.update((r["s"], r["t"], r["p"], float(r["v"])) for r in rows)
            data = parquet_bytes(table)
        elif kind == 1:  # p stored as text: typed in silver, quarantined where not a number
            number += 3
            good.update((r["s"], r["t"], r["p"], float(r["v"])) for r in rows)
            text = pa.array([str(r["p"]) for r in rows])
            data = parquet_bytes(table.set_column(1, "p", text))
        elif kind == 2:
            data = parquet_bytes(table)[: rng.randrange(4, 200)]
            unreadable.add(name)
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            unreadable.add(name)
        (trades / name).write_bytes(data)
    header = b"timestamp,open,high,low,close,volume\n"
    for symbol in ("AAA", "BBB"):
        lines = [f"2024-01-{d:02d},10,11,9,10.5,{100 + d}".encode() for d in range(2, 30)]
        lines += [mutate("2024-01-05,10,11,9,10.5,100", rng) for _ in range(100)]
        (bars / f"daily_{symbol}.csv").write_bytes(header + b"\n".join(lines) + b"\n")
    return good, unreadable


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, spark) -> dict:
    config = ProjectConfig(home=tmp_path_factory.mktemp("poison"))
    good, unreadable = write_landing(config.landing_dir, random.Random(SEED))
    tables = DeltaTables.from_config(config, spark)
    report = run_medallion(config, spark, tables)
    return {
        "config": config,
        "tables": tables,
        "report": report,
        "good": good,
        "unreadable": unreadable,
    }


def test_every_good_trade_reaches_silver_exactly_once(fuzzed: dict) -> None:
    silver = fuzzed["tables"].table("silver_trades").read()
    rows = silver.select("symbol", F.unix_millis("ts"), "price", "volume").collect()
    got = [tuple(r) for r in rows]
    assert len(got) == len(set(got))
    assert fuzzed["good"] <= set(got)


def test_every_bronze_row_is_accounted_for(fuzzed: dict) -> None:
    tables, report = fuzzed["tables"], fuzzed["report"]
    silver = [q for q in report.quality if q.table_name == "silver_trades"]
    bronze = tables.table("bronze_trades").count()
    assert bronze == sum(q.rows_in for q in silver)
    assert bronze == sum(q.rows_out + q.rows_quarantined + q.duplicates_removed for q in silver)
    assert sum(q.rows_quarantined for q in silver) > 1500  # the fuzz was mostly rejected


def test_each_unreadable_file_is_quarantined_as_one_row_naming_it(fuzzed: dict) -> None:
    quarantine = fuzzed["tables"].table("silver_quarantine").read()
    rows = quarantine.where(F.col("_parse_error").startswith("unreadable_file: ")).collect()
    names = [r._source_file.rsplit("/", 1)[-1] for r in rows]
    assert sorted(names) == sorted(fuzzed["unreadable"])
    reasons = quarantine.groupBy("_parse_error").count().collect()
    assert any(r._parse_error == "invalid_utf8" for r in reasons)


def test_bars_with_bad_bytes_are_quarantined_and_the_rest_typed(fuzzed: dict) -> None:
    tables = fuzzed["tables"]
    bars = tables.table("silver_bars").read()
    assert bars.where("symbol IN ('AAA', 'BBB') AND interval = '1d'").count() >= 2 * 28
    quarantined = tables.table("silver_bars_quarantine").read()
    assert quarantined.where(F.array_contains("_failed_rules", "parsed_record")).count() > 0


def test_a_second_run_over_the_same_files_changes_nothing(fuzzed: dict, spark) -> None:
    tables = fuzzed["tables"]
    before = {t.name.table: t.version() for t in tables.list()}
    again = run_medallion(fuzzed["config"], spark, tables)
    assert again.quality == [] and all(r.rows == 0 for r in again.ingest)
    assert {t.name.table: t.version() for t in tables.list()} == before
