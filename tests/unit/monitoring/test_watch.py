"""Live anomaly watch: extreme moves and improbable regime transitions raise alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from finml.errors import DataError
from finml.monitoring.alerts import AlertManager
from finml.monitoring.settings import AlertSettings, WatchSettings
from finml.monitoring.watch import LiveAnomalyWatch, return_zscores

TRANSITION = np.array([[0.93, 0.06, 0.01], [0.12, 0.80, 0.08], [0.05, 0.17, 0.78]])


def _watch(**settings) -> LiveAnomalyWatch:
    manager = AlertManager(AlertSettings(dedup_minutes=30))
    return LiveAnomalyWatch(manager, TRANSITION, settings=WatchSettings(**settings))


def test_zscores_match_a_direct_rolling_computation() -> None:
    g = np.random.default_rng(2)
    history, new = g.normal(size=60), g.normal(size=40)
    z = return_zscores(history, new, lookback=50)
    series = np.concatenate([history, new])
    for i in (0, 17, 39):
        end = 60 + i
        past = series[max(0, end - 50) : end]
        assert z[i] == pytest.approx((series[end] - past.mean()) / past.std(ddof=1), rel=1e-9)
    assert np.isnan(return_zscores(np.empty(0), g.normal(size=10), 50)).all()


def test_extreme_move_alerts_once_per_dedup_window() -> None:
    g = np.random.default_rng(4)
    watch = _watch(zscore=6.0, lookback=200)
    prices = 100 * np.exp(np.cumsum(g.normal(0, 1e-4, 300)))
    assert watch.observe_prices("AAPL", prices) == []
    t0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    rows = watch.observe_prices("AAPL", [prices[-1] * 1.01], [t0])  # ~100 sigma
    assert len(rows) == 1 and rows[0]["status"] == "recorded"
    assert rows[0]["severity"] == "CRITICAL" and "extreme move in AAPL" in rows[0]["title"]
    again = watch.observe_prices("AAPL", [prices[-1]], [t0 + timedelta(minutes=1)])
    assert [r["status"] for r in again] == ["deduplicated"]
    assert watch.observe_prices("MSFT", prices) == []  # per-symbol history


def test_improbable_regime_transition_alerts() -> None:
    watch = _watch(min_transition_probability=0.02)
    assert watch.observe_regime("AAPL", "Normal") == []
    assert watch.observe_regime("AAPL", "Stress") == []  # p = 0.06
    assert watch.observe_regime("AAPL", "Normal") == []  # p = 0.12
    rows = watch.observe_regime("AAPL", "Crisis")  # p = 0.01 < 0.02
    assert len(rows) == 1 and "Normal -> Crisis" in rows[0]["message"]
    assert rows[0]["severity"] == "HIGH"


def test_bad_inputs_are_named() -> None:
    with pytest.raises(DataError, match=r"transition matrix: expected shape \(3, 3\)"):
        LiveAnomalyWatch(AlertManager(), np.eye(2))
    with pytest.raises(DataError, match="rows summing to 1"):
        LiveAnomalyWatch(AlertManager(), np.full((3, 3), 0.5))
    watch = _watch()
    with pytest.raises(DataError, match="expected one of"):
        watch.observe_regime("AAPL", "Panic")
    with pytest.raises(DataError, match="positive finite"):
        watch.observe_prices("AAPL", [1.0, -2.0])
