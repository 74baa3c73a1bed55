"""Per-symbol series statistics against statsmodels and numpy called directly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finml.eda.records import Stat, to_arrow
from finml.eda.series import MIN_POINTS, series_stats
from finml.eda.settings import EdaSettings


def _bars(symbol: str, close: np.ndarray, start: str = "2026-03-02 14:30") -> pd.DataFrame:
    n = len(close)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "window_start": pd.date_range(start, periods=n, freq="1min", tz="UTC"),
            "close": close,
            "volume": np.arange(1, n + 1, dtype=float),
        }
    )


def _by(stats: list[Stat], symbol: str, statistic: str, column: str) -> Stat:
    return next(
        s for s in stats if (s.symbol, s.statistic, s.column_name) == (symbol, statistic, column)
    )


def test_a_random_walk_has_a_unit_root_and_its_returns_do_not() -> None:
    from statsmodels.tsa.stattools import adfuller

    rng = np.random.default_rng(3)
    walk = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 600)))
    stats = series_stats(_bars("WALK", walk), points=5000)
    price = _by(stats, "WALK", "adf_pvalue", "log_price")
    returns = _by(stats, "WALK", "adf_pvalue", "log_return")
    assert price.value == pytest.approx(adfuller(np.log(walk), autolag="AIC")[1])
    assert price.value > 0.05 and returns.value < 0.01
    kpss_price = _by(stats, "WALK", "kpss_pvalue", "log_price")
    assert kpss_price.value is not None and kpss_price.value <= 0.05  # KPSS rejects stationarity


def test_trend_is_the_slope_of_the_log_price_per_day() -> None:
    minutes = np.arange(2 * 1440)  # two days of 1-minute bars
    close = np.exp(4.0 + 0.01 * minutes / 1440)  # +1 % log price per day, exactly
    stats = series_stats(_bars("UP", close), points=10_000)
    trend = _by(stats, "UP", "trend_per_day", "log_price")
    assert trend.value == pytest.approx(0.01, rel=1e-9)
    assert trend.detail["r2"] == pytest.approx(1.0)


def test_intraday_profile_is_by_hour_and_only_the_latest_points_count() -> None:
    close = np.linspace(100, 101, 180)
    stats = series_stats(_bars("HRS", close, start="2026-03-02 14:00"), points=120)
    volume = _by(stats, "HRS", "intraday_volume", "volume")
    # the latest 120 bars: 15:00-15:59 (volumes 61..120) and 16:00-16:59 (121..180)
    assert volume.detail["hours"] == [15, 16]
    assert volume.detail["values"] == pytest.approx([90.5, 150.5])
    assert volume.value == pytest.approx(150.5 / 90.5)


def test_short_or_constant_series_yield_no_test() -> None:
    short = _bars("SHORT", np.linspace(10, 11, MIN_POINTS - 1))
    flat = _bars("FLAT", np.full(50, 10.0))
    stats = series_stats(pd.concat([short, flat]), points=1000)
    assert not [s for s in stats if s.symbol == "SHORT"]
    assert not [s for s in stats if s.symbol == "FLAT" and s.statistic.endswith("_pvalue")]


def test_rows_are_typed_and_non_finite_numbers_become_null() -> None:
    from datetime import UTC, datetime

    stats = [
        Stat("mean", float("nan"), "x"),
        Stat("histogram", None, "x", {"edges": [0.0, float("inf")], "counts": [1]}),
    ]
    table = to_arrow(stats, layer="silver", table="t", version=3, profiled_at=datetime.now(UTC))
    rows = table.to_pylist()
    assert rows[0]["value"] is None and rows[0]["table_version"] == 3
    assert json.loads(rows[1]["detail"]) == {"edges": [0.0, None], "counts": [1]}
    with pytest.raises(ValueError, match="statistic"):
        Stat("average", 1.0)


def test_settings_name_what_is_wrong() -> None:
    from finml.errors import ConfigError

    assert EdaSettings.from_section(None).histogram_bins == 20
    with pytest.raises(ConfigError, match="quantiles"):
        EdaSettings.from_section({"quantiles": [0.5, 0.9]})
    with pytest.raises(ConfigError, match="histogram_bins"):
        EdaSettings.from_section({"histogram_bins": 1})
