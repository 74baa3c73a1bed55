"""Trade features: FinML's Spark build (one pandas group per symbol and trading day, with
lookback halos) against the single-process floor, measured in the same run.

* ours: ``trade_features`` over N simulated trades, written to the ``noop`` format.
* floor: ``features_frame`` (the same vectorised definitions) in this one process with pandas,
  per symbol, over the same trades: what one core does with no engine around it.

``--scaling`` repeats the pair at 0.25M, 1M and 4M trades; ``--one-symbol`` builds 4M trades
(or ``--rows``) of ONE symbol and reports how many groups (tasks) the build spreads them over.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from _common import Measure, console, parser, report, timed  # noqa: E402

SCHEMA = (
    "symbol string, ts timestamp, trade_id string, price double, volume double, "
    "trade_date date, session string"
)


def simulated_trades(rows: int, symbols: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` silver-like trades over ``symbols`` symbols: each symbol trades every
    0.3 s x ``symbols`` on average, around the clock (5% ties),
    log-normal prices on a 4-decimal grid."""
    rng = np.random.default_rng(seed)
    symbol = np.arange(rows) % symbols
    gaps = rng.exponential(300_000 * symbols, rows).astype(np.int64) * (rng.random(rows) > 0.05)
    ts_us = np.empty(rows, np.int64)
    start = pd.Timestamp("2024-01-02 09:00", tz="America/New_York").value // 1000
    for s in range(symbols):
        mine = symbol == s
        ts_us[mine] = start + np.cumsum(gaps[mine])
    steps = rng.normal(0, 0.0005, rows)
    price = np.empty(rows)
    for s in range(symbols):
        mine = symbol == s
        price[mine] = np.round(100.0 * np.exp(np.cumsum(steps[mine])), 4)
    ts = pd.to_datetime(ts_us, unit="us", utc=True)
    local = ts.tz_convert("America/New_York")
    minutes = local.hour * 60 + local.minute
    session = np.select(
        [minutes < 570, minutes < 960, minutes < 1200], ["pre", "regular", "post"], "closed"
    )
    return pd.DataFrame(
        {
            "symbol": np.char.add("S", symbol.astype(str)),
            "ts": ts.tz_localize(None),
            "trade_id": np.char.add("t", np.arange(rows).astype(str)),
            "price": price,
            "volume": rng.integers(1, 500, rows).astype(float),
            "trade_date": local.date,
            "session": session,
        }
    )


def _spark():
    from finml.config import ProjectConfig
    from finml.runtime.spark import get_spark

    return get_spark(ProjectConfig(home=Path(tempfile.mkdtemp(prefix="finml-bench-feat-"))))


def bench_pair(spark, rows: int, symbols: int, repeat: int) -> tuple[Measure, Measure, float]:
    from finml.features.frame import features_frame
    from finml.features.indicators import trade_features
    from finml.features.settings import FeatureSettings

    settings = FeatureSettings()
    frame = simulated_trades(rows, symbols)
    silver = spark.createDataFrame(frame, SCHEMA).cache()
    silver.count()
    features = silver.transform(trade_features(settings))
    ours = timed(
        f"spark trade_features ({rows:,})",
        rows,
        repeat,
        lambda: features.write.format("noop").mode("overwrite").save(),
    )
    floor = timed("pandas features_frame", rows, repeat, lambda: features_frame(frame, settings))
    silver.unpersist()
    return ours, floor, 3.0


def one_symbol(spark, rows: int) -> dict[str, float]:
    """Groups (tasks) and seconds of the build for ``rows`` trades of one symbol."""
    from finml.features.indicators import chunked_trades, trade_features
    from finml.features.settings import FeatureSettings

    settings = FeatureSettings()
    silver = spark.createDataFrame(simulated_trades(rows, 1), SCHEMA).cache()
    silver.count()
    groups = silver.transform(chunked_trades(settings)).select("_chunk").distinct().count()
    started = time.perf_counter()
    silver.transform(trade_features(settings)).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    console.print(f"one symbol, {rows:,} trades: {groups} groups (tasks), {seconds:.1f} s")
    return {"one_symbol_rows": rows, "one_symbol_groups": groups, "one_symbol_seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "python benchmarks/features.py --rows 1000000", 1_000_000)
    p.add_argument("--symbols", type=int, default=8, help="symbols the trades are spread over")
    p.add_argument("--scaling", action="store_true", help="0.25M, 1M and 4M trades")
    p.add_argument("--one-symbol", action="store_true", help="groups for one symbol's 4M trades")
    args = p.parse_args(argv)
    spark = _spark()
    extra: dict[str, float] = {}
    if args.one_symbol:
        extra = one_symbol(spark, args.rows if args.rows != 1_000_000 else 4_000_000)
    sizes = [250_000, 1_000_000, 4_000_000] if args.scaling else [args.rows]
    pairs = [bench_pair(spark, n, args.symbols, args.repeat) for n in sizes]
    report("Trade features", pairs, args.out, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
