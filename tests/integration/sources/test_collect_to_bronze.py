"""Collected files through the real bronze ingestion: every collected trade lands in bronze
exactly once, across reconnects and re-runs, and Alpha Vantage bars keep their symbol."""

from __future__ import annotations

from pathlib import Path

from collector_servers import AlphaVantageServer, FinnhubServer, trade_message
from pyspark.sql import functions as F
from test_collect_cli import fast_settings, finml

from finml.jobs.collect import collect_alphavantage, collect_finnhub
from finml.pipelines.ingest import ingest_landing


def bronze_keys(tables) -> list[tuple[str, int, float]]:
    rows = (
        tables.table("bronze_trades")
        .read()
        .where(F.col("_parse_error").isNull())
        .select("s", "t", "p")
        .collect()
    )
    return sorted((r.s, int(r.t), float(r.p)) for r in rows)


def collect(server: FinnhubServer, home: Path, duration: str = "1.5s") -> None:
    """``finml collect finnhub`` as a real process."""
    result = finml(
        "collect", "finnhub", "--symbols", "AAPL,MSFT", "--duration", duration,
        "--url", server.url, "--flush-interval", "0.1", "--flush-size", "5",
        "--settings", fast_settings(home.parent), home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]


def collect_bars(config) -> None:
    """In-process (the CLI path is covered by test_collect_cli): daily CSV/JSON, intraday."""
    with AlphaVantageServer({"MSFT": ["json"]}) as server:
        fast = {"base_url": server.url, "throttle_wait_s": 0}
        collect_alphavantage(config, ["AAPL", "MSFT"], "TIME_SERIES_DAILY", **fast)
        collect_alphavantage(config, ["AAPL"], "TIME_SERIES_INTRADAY", interval="1min", **fast)


def bar_counts(tables) -> dict[tuple[str, bool], int]:
    bars = tables.table("bronze_bars").read()
    assert bars.where(F.col("_parse_error").isNotNull()).count() == 0
    grouped = bars.groupBy("symbol", F.col("_source_file").contains("intraday").alias("i"))
    return {(r.symbol, r.i): r["count"] for r in grouped.count().collect()}


def test_collected_files_land_in_bronze_exactly_once(config, spark, tables, monkeypatch) -> None:
    monkeypatch.setenv("FINNHUB_API_KEY", "fh-bronze-key")
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "av-bronze-key")
    first = [
        [*[("send", trade_message("AAPL", 1_000 + 10 * i)) for i in range(8)], ("drop",)],
        [*[("send", trade_message("MSFT", 5_000 + 10 * i)) for i in range(6)], ("send", "{bad")],
    ]
    with FinnhubServer(first, expect_symbols=2) as server:
        collect(server, config.home)
    delivered = sorted(server.delivered_trades())
    collect_bars(config)
    ingest_landing(config, spark, tables)
    assert bronze_keys(tables) == delivered and len(delivered) == 28
    # Bars keep the symbol from the file name (daily_<S>.csv, intraday_<i>_<S>.csv).
    assert bar_counts(tables) == {("AAPL", False): 3, ("MSFT", False): 3, ("AAPL", True): 3}

    second = [[("send", trade_message("AAPL", 9_000, 3))]]
    with FinnhubServer(second, expect_symbols=2) as server:
        collect_finnhub(config, ["AAPL", "MSFT"], "0.5s", url=server.url)
    ingest_landing(config, spark, tables)  # the first run's files are not read again
    assert bronze_keys(tables) == sorted([*delivered, *server.delivered_trades()])
    assert tables.table("bronze_trades").read().count() == 31  # the bad line never landed
    assert sum(bar_counts(tables).values()) == 9
