"""The per-day build with lookback halos equals the whole-history window-function build,
and spreads one symbol over many groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.features.indicators import chunked_trades, feature_names, trade_features
from finml.features.settings import FeatureSettings

from .random_trades import random_trades
from .test_indicators import to_spark
from .window_reference import window_features

SHORT = FeatureSettings(
    vol_windows=(2, 5), rsi_period=3, macd_fast=2, macd_slow=5, macd_signal=3,
    bollinger_period=4, zscore_window=5, range_window=3, stale_lookback=7,
)  # fmt: skip


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, settings: FeatureSettings) -> None:
    got = got.sort_values("trade_id").reset_index(drop=True)
    expected = expected.sort_values("trade_id").reset_index(drop=True)
    for key in ("symbol", "ts", "trade_id", "_trade_date"):
        assert got[key].tolist() == expected[key].tolist(), key
    for column in feature_names(settings):
        a, b = got[column].to_numpy(float), expected[column].to_numpy(float)
        nulls = np.isnan(a) != np.isnan(b)
        assert not nulls.any(), f"{column}: nulls differ at {got['trade_id'][nulls].tolist()[:5]}"
        both = ~np.isnan(a)
        assert np.allclose(a[both], b[both], rtol=1e-9, atol=1e-9), f"{column} differs"


@pytest.mark.parametrize("settings", [FeatureSettings(), SHORT], ids=["default", "short"])
def test_chunked_build_equals_the_window_build(spark, settings: FeatureSettings) -> None:
    trades = to_spark(spark, random_trades(11, {"AAA": 1500, "BBB": 700, "CCC": 60, "ONE": 1}))
    new = trades.transform(trade_features(settings))
    old = trades.transform(window_features(settings))
    assert new.dtypes == old.dtypes
    assert_same(new.toPandas(), old.toPandas(), settings)


def test_halo_spans_several_short_days(spark) -> None:
    trades = to_spark(spark, random_trades(12, {"AAA": 900}))
    rows = trades.transform(chunked_trades(FeatureSettings())).toPandas()
    own = rows[~rows["_halo"]]
    assert len(own) == 900
    halo_days = rows[rows["_halo"]].groupby("_chunk")["_day"].nunique()
    assert halo_days.max() >= 3  # days are short (~50 trades): the 501-trade halo spans days


def test_one_symbol_over_ten_days_is_ten_groups_or_more(spark, capsys) -> None:
    frames = [random_trades(20 + i, {s: 700}) for i, s in enumerate(("AAA", "BBB", "CCC"))]
    trades = to_spark(spark, pd.concat(frames, ignore_index=True))
    rows = trades.transform(chunked_trades(SHORT))
    assert rows.where("symbol = 'AAA'").select("_chunk").distinct().count() >= 10
    assert rows.select("symbol", "_chunk").distinct().count() >= 30
    trades.transform(trade_features(SHORT)).explain()
    plan = capsys.readouterr().out
    grouped = [line for line in plan.splitlines() if "FlatMapGroupsInPandas" in line]
    assert grouped and all("_chunk" in line for line in grouped), plan
