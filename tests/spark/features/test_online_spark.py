"""Online features against the Spark build itself: the same trade sequence through
``trade_features`` (delta-free, the transform the feature job runs) and one raw trade at a
time through :class:`OnlineFeatures`; silver's trade identity and session, both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from finml.features.indicators import feature_names, trade_features
from finml.features.online import OnlineFeatures, RawTrade, session_of, trade_identity
from finml.features.settings import FeatureSettings
from finml.pipelines.trades import with_trade_identity

from .random_trades import random_trades
from .test_indicators import to_spark

SETTINGS = FeatureSettings()


def test_online_features_equal_the_spark_build(spark) -> None:
    trades = random_trades(11, {"AAA": 650, "BBB": 120})
    trades["session"] = [session_of(t.to_pydatetime()) for t in trades["ts"]]
    batch = to_spark(spark, trades).transform(trade_features(SETTINGS)).toPandas()
    online = OnlineFeatures(SETTINGS)
    rows = []
    for row in trades.sort_values(["ts", "trade_id"]).itertuples():
        out = online.update(RawTrade(row.symbol, row.ts.to_pydatetime(), row.price,
                                     row.volume, row.trade_id))  # fmt: skip
        rows.append({"trade_id": out.trade_id, **out.features})
    merged = pd.DataFrame(rows).merge(batch, on="trade_id", suffixes=("", "_spark"))
    assert len(merged) == len(trades)
    for name in feature_names(SETTINGS):
        a = merged[name].to_numpy(dtype=float)
        b = merged[f"{name}_spark"].to_numpy(dtype=float)
        assert (np.isnan(a) == np.isnan(b)).all(), f"{name}: nulls differ"
        both = ~np.isnan(a)
        assert np.allclose(a[both], b[both], rtol=1e-9, atol=1e-9), f"{name} differs"


def test_trade_identity_and_session_are_silvers(spark) -> None:
    g = np.random.default_rng(3)
    times = [datetime(2024, 3, 8, 0, 0, tzinfo=UTC) + pd.Timedelta(minutes=int(m)).to_pytimedelta()
             for m in g.integers(0, 4 * 24 * 60, 200)]  # fmt: skip
    prices = [round(float(p), 4) for p in g.uniform(0.0005, 3e7, 200)]
    prices[:4] = [187.25, 0.0001234, 12_345_678.0, 1e7]
    volumes = [float(v) for v in g.integers(1, 10**8, 200)]
    conditions = [["T", "@"] if i % 3 == 0 else ([] if i % 3 == 1 else None) for i in range(200)]
    frame = spark.createDataFrame(
        pd.DataFrame({"symbol": "AAPL", "ts": [t.replace(tzinfo=None) for t in times],
                      "price": prices, "volume": volumes, "conditions": conditions}),
        "symbol string, ts timestamp, price double, volume double, conditions array<string>",
    )  # fmt: skip
    silver = frame.transform(with_trade_identity).orderBy("ts").toPandas()
    for row in silver.itertuples():
        ts = row.ts.to_pydatetime().replace(tzinfo=UTC)
        expected = trade_identity(
            row.symbol,
            ts,
            row.price,
            row.volume,
            tuple([] if row.conditions is None else row.conditions),
        )
        assert expected == row.trade_id, (row.price, row.volume)
        assert session_of(ts) == row.session, ts
