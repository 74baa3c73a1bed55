"""``features_frame`` (vectorised pandas) equals the loop-based reference on random trades."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from finml.features.frame import feature_names, features_frame
from finml.features.settings import FeatureSettings

SPARK_FEATURES = Path(__file__).resolve().parents[2] / "spark" / "features"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"_features_{name}", SPARK_FEATURES / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference_features = _load("reference").reference_features
random_trades = _load("random_trades").random_trades

SMALL = FeatureSettings(
    vol_windows=(2, 5), rsi_period=3, macd_fast=2, macd_slow=5, macd_signal=3,
    bollinger_period=4, zscore_window=5, range_window=3, stale_lookback=7,
)  # fmt: skip


def assert_same_features(got: pd.DataFrame, expected: pd.DataFrame, names: list[str]) -> None:
    """Same trades, every feature within 1e-9 (absolute or relative), nulls in the same rows."""
    got = got.sort_values("trade_id").reset_index(drop=True)
    expected = expected.sort_values("trade_id").reset_index(drop=True)
    assert got["trade_id"].tolist() == expected["trade_id"].tolist()
    for column in names:
        a = got[column].to_numpy(dtype=float)
        b = expected[column].to_numpy(dtype=float)
        nulls = np.isnan(a) != np.isnan(b)
        assert not nulls.any(), f"{column}: nulls differ at {got['trade_id'][nulls].tolist()[:5]}"
        both = ~np.isnan(a)
        assert np.allclose(a[both], b[both], rtol=1e-9, atol=1e-9), f"{column} differs"


@pytest.mark.parametrize(("seed", "settings"), [(1, FeatureSettings()), (2, SMALL), (3, SMALL)])
def test_features_frame_equals_the_loop_reference(seed: int, settings: FeatureSettings) -> None:
    trades = random_trades(seed, {"AAA": 260, "BBB": 140, "ONE": 1})
    got = features_frame(trades, settings)
    assert list(got.columns) == [
        "symbol",
        "ts",
        "trade_id",
        "_trade_date",
        *feature_names(settings),
    ]
    assert all(got[c].dtype == np.float64 for c in feature_names(settings))
    assert_same_features(got, reference_features(trades, settings), feature_names(settings))


def test_features_frame_sees_flat_runs_and_repeats() -> None:
    got = features_frame(random_trades(4, {"AAA": 400}), SMALL)
    assert got["stale_repeat"].sum() > 0
    assert got["bb_pct_b"].isna().sum() > 0  # a flat window: sd 0 -> null, as Spark
    assert (got["trades_1s"] > 1).any()


def test_features_frame_of_no_trades_is_empty() -> None:
    empty = random_trades(5, {"AAA": 3}).iloc[:0]
    assert features_frame(empty, SMALL).empty
