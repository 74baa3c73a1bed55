"""Regimes as trade features: the previous trading day's filtered probabilities, point in
time (never the trade's own day), per symbol, in the trades' row order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.regimes.as_features import FEATURE_COLUMNS, previous_day_posteriors


def _states() -> pd.DataFrame:
    rows = [
        ("AAPL", "2024-01-02", 0.9, 0.1, 0.0),
        ("AAPL", "2024-01-03", 0.2, 0.5, 0.3),
        ("AAPL", "2024-01-05", 0.1, 0.1, 0.8),  # 01-04 has no row: 01-05 still sees 01-03
        ("MSFT", "2024-01-02", 0.6, 0.4, 0.0),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "symbol",
            "trade_date",
            *(f"p_filtered_{r}" for r in ("normal", "stress", "crisis")),
        ],
    )
    frame["trade_date"] = pd.to_datetime(frame["trade_date"]).dt.date
    frame["p_smoothed_normal"] = 1.0  # never used: it looks ahead
    return frame


def test_each_trade_gets_the_last_earlier_days_filtered_probabilities() -> None:
    trades = pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT", "AAPL", "AAPL", "AAPL", "AAPL", "MSFT"],
            "ts": pd.to_datetime(
                [
                    "2024-01-03 15:00",  # AAPL day 01-03 -> 01-02
                    "2024-01-03 15:00",  # MSFT day 01-03 -> 01-02 (its own symbol)
                    "2024-01-02 15:00",  # first regime day itself: nothing earlier
                    "2024-01-06 02:00",  # 21:00 on 01-05 in New York -> 01-03, not 01-05
                    "2024-01-04 15:00",  # -> 01-03
                    "2024-01-08 15:00",  # -> 01-05
                    "2024-01-02 14:00",  # MSFT's first day: nothing earlier
                ],
                utc=True,
            ).astype("datetime64[us, UTC]"),  # as Arrow hands them over
            "x": np.arange(7.0),
        }
    )
    out = previous_day_posteriors(trades, _states())
    assert out["x"].tolist() == list(range(7))  # row order and columns kept
    normal, stress, crisis = (out[c].to_numpy() for c in FEATURE_COLUMNS)
    np.testing.assert_array_equal(normal, [0.9, 0.6, np.nan, 0.2, 0.2, 0.1, np.nan])
    np.testing.assert_array_equal(stress, [0.1, 0.4, np.nan, 0.5, 0.5, 0.1, np.nan])
    np.testing.assert_array_equal(crisis, [0.0, 0.0, np.nan, 0.3, 0.3, 0.8, np.nan])


def test_a_two_state_fit_leaves_stress_empty() -> None:
    states = _states().drop(columns="p_filtered_stress")
    trades = pd.DataFrame(
        {"symbol": ["AAPL"], "ts": pd.to_datetime(["2024-01-04 15:00"], utc=True)}
    )
    out = previous_day_posteriors(trades, states)
    assert out["regime_p_normal"].tolist() == [0.2] and out["regime_p_crisis"].tolist() == [0.3]
    assert np.isnan(out["regime_p_stress"].iloc[0])
