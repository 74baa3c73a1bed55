"""Markov fit on a long regime sequence and trade-feature building, each against a naive
baseline measured in the same run.

* Markov: ``MarkovChain.fit`` (one ``np.bincount`` over pair codes, smoothing, bootstrap)
  vs a Python loop counting transitions one step at a time (same smoothing).
* Features: ``trade_features`` (per symbol and trading day with lookback halos) on
  ``--trades`` simulated trades vs the row-at-a-time Python reference used by the tests,
  timed on ``--baseline-trades`` trades and extrapolated linearly (the reference is
  super-linear, so linear extrapolation flatters the baseline).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests" / "spark" / "features"))
from _common import Measure, console, parser, progress, report, timed  # noqa: E402


def naive_fit(seq: np.ndarray, k: int, alpha: float) -> np.ndarray:
    counts = [[0] * k for _ in range(k)]
    prev = int(seq[0])
    for state in seq[1:].tolist():
        counts[prev][state] += 1
        prev = state
    c = np.asarray(counts, dtype=float) + alpha
    return c / c.sum(axis=1, keepdims=True)


def simulated_trades(n: int):
    """About ``n`` simulated trades (4 symbols) as a silver-like pandas frame."""
    import pandas as pd

    from finml.sources.simulator import SimulatorConfig, simulate

    days = max(2, round(n / (4 * 1.5 * 2000)))
    sim = simulate(SimulatorConfig(days=days, trades_per_day=2000, anomaly_rate=0.01))
    trades = sim.trades
    ts = pd.to_datetime(trades["ts_ms"], unit="ms", utc=True)
    return pd.DataFrame(
        {
            "symbol": trades["symbol"],
            "ts": ts.dt.tz_localize(None),
            "trade_id": [f"{i:012d}" for i in range(len(trades))],
            "price": trades["price"],
            "volume": trades["volume"],
            "trade_date": ts.dt.tz_convert("America/New_York").dt.date,
            "session": trades["session"],
        }
    )


def bench_markov(steps: int, repeat: int, bar, task) -> tuple[Measure, Measure, float]:
    from finml.regimes.markov import MarkovChain

    rng = np.random.default_rng(0)
    seq = rng.choice(3, size=steps, p=[0.6, 0.3, 0.1])
    ours = timed(
        "markov fit (bincount + 500 bootstrap)",
        steps,
        repeat,
        lambda: MarkovChain.fit(seq, bootstrap=500),
        bar=bar,
        task=task,
    )
    started = time.perf_counter()
    expected = naive_fit(seq, 3, 0.5)
    base = Measure("python loop count", time.perf_counter() - started, 0.0, steps)
    base.best = base.seconds
    assert np.allclose(MarkovChain.fit(seq, bootstrap=10).matrix, expected, atol=1e-12)
    return ours, base, 0.1


def bench_features(trades: int, baseline: int, repeat: int, bar, task):
    from reference import reference_features

    from finml.config import ProjectConfig
    from finml.features.indicators import trade_features
    from finml.features.settings import FeatureSettings
    from finml.runtime.spark import get_spark

    settings = FeatureSettings()
    frame = simulated_trades(trades)
    spark = get_spark(ProjectConfig(home=Path(tempfile.mkdtemp(prefix="finml-bench-reg-"))))
    schema = (
        "symbol string, ts timestamp, trade_id string, price double, volume double, "
        "trade_date date, session string"
    )
    silver = spark.createDataFrame(frame, schema).cache()
    rows = silver.count()
    features = silver.transform(trade_features(settings))
    ours = timed(
        "spark trade_features",
        rows,
        repeat,
        lambda: features.write.format("noop").mode("overwrite").save(),
        bar=bar,
        task=task,
    )
    sample = frame[frame["symbol"] == frame["symbol"].iloc[0]].head(baseline)
    started = time.perf_counter()
    reference_features(sample, settings)
    per_row = (time.perf_counter() - started) / len(sample)
    base = Measure(
        f"python row loop (extrapolated from {len(sample):,})", per_row * rows, 0.0, rows
    )
    base.best = base.seconds
    return ours, base, 0.5


def main(argv: list[str] | None = None) -> int:
    p = parser(
        __doc__.splitlines()[0],
        "python benchmarks/regimes.py --rows 10000000 --trades 1000000",
        10_000_000,
    )
    p.add_argument("--trades", type=int, default=1_000_000, help="trades for the feature build")
    p.add_argument("--baseline-trades", type=int, default=3_000, help="trades for the loop")
    args = p.parse_args(argv)
    with progress() as bar:
        task = bar.add_task("markov + features", total=2 * args.repeat)
        markov = bench_markov(args.rows, args.repeat, bar, task)
        feats = bench_features(args.trades, args.baseline_trades, args.repeat, bar, task)
    console.print(f"markov steps: {args.rows:,}; feature rows: {feats[0].rows:,}")
    report("Regimes and features", [markov, feats], args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
