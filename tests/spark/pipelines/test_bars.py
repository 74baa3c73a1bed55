"""Vendor bars through the medallion: typed and checked in silver, deduplicated by the latest
fetch, and combined with trade-derived bars in gold daily."""

from __future__ import annotations

import json
from datetime import date, datetime

from pyspark.sql import functions as F

from finml.config import ProjectConfig
from finml.pipelines.bars import SILVER_BARS, latest_fetch, typed_bars
from finml.pipelines.contracts import expectations_for
from finml.pipelines.expectations import check
from finml.pipelines.ingest import bronze_bars_from_lines
from finml.pipelines.medallion import run_medallion
from finml.pipelines.trades import with_ingest_metadata
from finml.runtime.delta import DeltaTables

HEADER = "timestamp,open,high,low,close,volume"


def bronze(spark, lines: list[str], file: str = "file:/l/bars/daily_AAPL.csv"):
    df = spark.createDataFrame(
        [(line, file) for line in lines], "value string, _source_file string"
    )
    return bronze_bars_from_lines(df).transform(with_ingest_metadata(0))


def test_each_bad_bar_fails_its_named_rule(spark) -> None:
    cases = {
        "2024-01-02,10,11,9,10.5,100": [],
        "2024-01-03,abc,11,9,10.5,100": ["prices_numeric"],
        "2024-01-04,10,9,11,10.5,100": ["high_low_consistent"],  # high < low
        "2024-01-05,10,11,9,10.5,-3": ["volume_in_range"],
        "2024-01-06,,11,9,10.5,100": ["prices_numeric"],  # missing open
        "2024-13-45,10,11,9,10.5,100": ["bar_time_valid"],
        "2024-01-08,10,11,9": ["parsed_record"],  # short row
        "2024-01-09,0,11,9,10.5,100": ["high_low_consistent", "prices_positive"],
        "1985-01-02,10,11,9,10.5,100": ["bar_after_floor"],
        "2199-01-02,10,11,9,10.5,100": ["bar_not_future"],
    }
    checked = check(
        typed_bars(bronze(spark, [HEADER, *cases])), expectations_for(SILVER_BARS), SILVER_BARS
    )
    got = {r._raw: sorted(r._failed_rules) for r in checked.quarantined.collect()}
    assert got == {line: rules for line, rules in cases.items() if rules}
    valid = checked.valid.collect()
    assert [(r.symbol, r.interval, r.bar_date, r.open, r.volume) for r in valid] == [
        ("AAPL", "1d", date(2024, 1, 2), 10.0, 100.0)
    ]
    assert valid[0].bar_start == datetime(2024, 1, 2, 5, 0)  # New York midnight in UTC
    checked.release()


def test_intraday_bars_are_new_york_times_with_their_interval(spark) -> None:
    rows = typed_bars(
        bronze(
            spark,
            ["2024-01-08 09:31:00,1,2,0.5,1.5,7"],
            "file:/l/bars/av_1_x_intraday_5min_MSFT.csv",
        )
    ).collect()
    assert (rows[0].interval, rows[0].bar_start, rows[0].bar_date) == (
        "5min",
        datetime(2024, 1, 8, 14, 31),
        date(2024, 1, 8),
    )


def test_the_latest_fetch_of_a_bar_wins(spark) -> None:
    first = bronze(spark, ["2024-01-02,10,11,9,10.5,100"], "file:/l/bars/av_1_a_daily_AAPL.csv")
    later = bronze(spark, ["2024-01-02,10,11,9,10.7,120"], "file:/l/bars/av_2_b_daily_AAPL.csv")
    bars = latest_fetch(typed_bars(first.unionByName(later))).collect()
    assert [(r.close, r.volume) for r in bars] == [(10.7, 120.0)]


def write_bars(landing, name: str, days: range, close: float) -> None:
    folder = landing / "bars"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"2024-01-{d:02d},10,11,9,{close},{100 + d}" for d in days]
    (folder / name).write_text("\n".join([HEADER, *lines]) + "\n")


def write_trades(landing, day: int) -> None:
    folder = landing / "trades"
    folder.mkdir(parents=True, exist_ok=True)
    t = int(datetime(2024, 1, day, 15, 0).timestamp() * 1000)
    trades = [
        {"s": "AAPL", "p": 10.2 + i / 100, "v": 5, "t": t + i * 1000, "c": ["1"]} for i in range(3)
    ]
    (folder / f"trades_{day}.jsonl").write_text(
        json.dumps({"type": "trade", "data": trades}) + "\n"
    )


def test_two_collections_of_the_same_bars_are_stored_once_and_combine_with_trades(
    spark, tmp_path
) -> None:
    config = ProjectConfig(home=tmp_path / "home")
    tables = DeltaTables.from_config(config, spark)
    write_bars(config.landing_dir, "av_20240130T000000_a_daily_AAPL.csv", range(2, 30), 10.5)
    write_trades(config.landing_dir, 9)
    first = run_medallion(config, spark, tables)
    write_bars(config.landing_dir, "av_20240131T000000_b_daily_AAPL.csv", range(2, 30), 10.8)
    second = run_medallion(config, spark, tables)

    assert [r.rows for r in first.ingest if r.table == "bronze_bars"] == [28]
    assert [r.rows for r in second.ingest if r.table == "bronze_bars"] == [28]
    silver = tables.table(SILVER_BARS).read()
    assert silver.count() == 28  # 56 fetched rows, 28 bars
    assert {r.close for r in silver.select("close").collect()} == {10.8}  # the latest fetch
    daily = {r.trade_date.day: r for r in tables.table("gold_bars_daily").read().collect()}
    assert len(daily) == 28
    assert daily[9].source == "trades" and daily[9].trade_count == 3  # trades win
    assert daily[8].source == "vendor" and daily[8].close == 10.8 and daily[8].vwap is None
    silver_dq = [q for q in second.quality if q.table_name == SILVER_BARS]
    assert [(q.rows_in, q.rows_out) for q in silver_dq] == [(28, 28)]
    assert tables.table("gold_bars_daily").read().where(F.col("close").isNull()).count() == 0
