"""Trade features equal a loop-based pandas reference and never look at later trades."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality

from finml.features.indicators import feature_names, trade_features
from finml.features.settings import FeatureSettings

from .reference import reference_features

SETTINGS = FeatureSettings()


def sample_trades(n: int = 140, seed: int = 5) -> pd.DataFrame:
    """Two symbols, two New-York days, tied timestamps, a price spike and a volume burst."""
    rng = np.random.default_rng(seed)
    rows = []
    for symbol, start in (("AAA", 100.0), ("BBB", 20.0)):
        t = datetime(2024, 1, 9, 14, 25, tzinfo=UTC)
        price = start
        for i in range(n):
            t += timedelta(milliseconds=int(rng.choice([0, 300, 900, 1500, 20_000])))
            if i == n // 2:
                t += timedelta(days=1)
            price *= math.exp(rng.normal(0, 0.002))
            spike = 1.05 if i == 90 else 1.0
            if i == 110:  # a stale print: replays the price of trade 30
                price = rows[-80]["price"]
            volume = float(rng.integers(1, 500)) * (50 if i == 100 else 1)
            session = "pre" if t.hour < 14 or (t.hour == 14 and t.minute < 30) else "regular"
            rows.append(
                {
                    "symbol": symbol,
                    "ts": t.replace(tzinfo=None),
                    "trade_id": f"{symbol}{i:04d}",
                    "price": round(price * spike, 4),
                    "volume": volume,
                    "trade_date": (t - timedelta(hours=5)).date(),
                    "session": session,
                }
            )
    return pd.DataFrame(rows)


def to_spark(spark, frame: pd.DataFrame):
    schema = (
        "symbol string, ts timestamp, trade_id string, price double, volume double, "
        "trade_date date, session string"
    )
    return spark.createDataFrame(frame, schema)


def test_features_equal_the_pandas_reference(spark) -> None:
    trades = sample_trades()
    got = to_spark(spark, trades).transform(trade_features(SETTINGS)).toPandas()
    expected = reference_features(trades, SETTINGS)
    got = got.sort_values("trade_id").reset_index(drop=True)
    expected = expected.sort_values("trade_id").reset_index(drop=True)
    assert len(got) == len(trades)
    for column in feature_names(SETTINGS):
        a = got[column].to_numpy(dtype=float)
        b = expected[column].to_numpy(dtype=float)
        assert (np.isnan(a) == np.isnan(b)).all(), f"{column}: nulls differ"
        both = ~np.isnan(a)
        assert np.allclose(a[both], b[both], rtol=1e-9, atol=1e-9), f"{column} differs"
    # The anomalies stand out (the features can see them).
    spike = got[got["trade_id"] == "AAA0090"].iloc[0]
    assert spike["return_z"] > 5
    assert got[got["trade_id"] == "AAA0100"].iloc[0]["volume_z"] > 3
    assert got[got["trade_id"] == "AAA0110"].iloc[0]["stale_repeat"] == 1.0


def test_features_never_use_later_trades_or_other_symbols(spark) -> None:
    trades = sample_trades()
    cut = trades[(trades["symbol"] == "AAA") & (trades["trade_id"] <= "AAA0080")]
    full = to_spark(spark, trades).transform(trade_features(SETTINGS))
    head = to_spark(spark, cut).transform(trade_features(SETTINGS))
    earlier = full.where("symbol = 'AAA' AND trade_id <= 'AAA0080'")
    assert_df_equality(earlier, head, ignore_row_order=True, allow_nan_equality=True)


@pytest.mark.parametrize("column", ["vol_5", "rsi", "macd", "bb_pct_b", "trades_60s"])
def test_feature_columns_are_doubles(spark, column: str) -> None:
    df = to_spark(spark, sample_trades(10)).transform(trade_features(SETTINGS))
    assert dict(df.dtypes)[column] == "double"
