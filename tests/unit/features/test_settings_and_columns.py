"""Feature settings validation and the shared feature-column rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.errors import ConfigError
from finml.features import feature_columns
from finml.features.indicators import truncated_ema
from finml.features.settings import FeatureSettings
from finml.features.split import split_days


def test_feature_columns_rule_on_every_frame_kind() -> None:
    names = ["symbol", "ts", "trade_id", "label", "_feature_table_version", "_trade_date", "a", "b"]
    frame = pd.DataFrame(columns=names)
    assert feature_columns(frame) == ["a", "b"]
    assert feature_columns(pa.schema([(n, pa.float64()) for n in names])) == ["a", "b"]
    assert feature_columns(names) == ["a", "b"]


def test_settings_reject_unknown_and_inconsistent_fields() -> None:
    assert FeatureSettings.from_section(None).vol_windows == (5, 10, 20, 50)
    with pytest.raises(ConfigError, match=r"config section 'features': field 'features\.bogus'"):
        FeatureSettings.from_section({"bogus": 1})
    with pytest.raises(ConfigError, match="macd_fast: expected < macd_slow"):
        FeatureSettings.from_section({"macd_fast": 30, "macd_slow": 26})


def test_truncated_ema_equals_pandas_ewm_on_short_series() -> None:
    """Reference: pandas ewm(span, adjust=True) equals the truncated EMA while the series is
    shorter than the window."""
    x = np.random.default_rng(1).normal(size=30)
    expected = pd.Series(x).ewm(span=12, adjust=True).mean().to_numpy()
    assert np.allclose(truncated_ema(x, 12, 3), expected, rtol=0, atol=1e-12)


def test_split_days_keeps_at_least_one_day_each_side() -> None:
    days = [pd.Timestamp("2024-01-01") + pd.Timedelta(days=i) for i in range(3)]
    cutoff, n = split_days([d.date() for d in days], 0.99)
    assert n == 2 and cutoff == days[1].date()
