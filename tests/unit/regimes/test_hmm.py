"""The probabilistic regime model (sticky Gaussian HMM) on simulated regimes of known law."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError
from finml.regimes.hmm import RegimeHmm
from finml.regimes.hmm_features import daily_features
from finml.regimes.markov import STATES

TRANSITIONS = np.array([[0.96, 0.03, 0.01], [0.05, 0.90, 0.05], [0.03, 0.07, 0.90]])
VOLS = (0.008, 0.016, 0.032)  # daily, per regime: Normal, Stress, Crisis
STEPS = 26  # intraday steps per simulated day


def simulate(days: int, seed: int, symbol: str = "SIM") -> tuple[pd.DataFrame, np.ndarray]:
    """Daily OHLC bars from an intraday random walk whose volatility follows a known
    3-state Markov chain, and the hidden state of each day."""
    rng = np.random.default_rng(seed)
    states = np.zeros(days, dtype=np.int64)
    for t in range(1, days):
        states[t] = rng.choice(3, p=TRANSITIONS[states[t - 1]])
    vols = np.asarray(VOLS)[states]
    steps = rng.normal(0.0, (vols / np.sqrt(STEPS))[:, None], (days, STEPS))
    path = np.log(100.0) + np.cumsum(steps.ravel()).reshape(days, STEPS)
    opens = np.concatenate(([np.log(100.0)], path[:-1, -1]))
    bars = pd.DataFrame(
        {
            "symbol": symbol,
            "trade_date": pd.bdate_range("2020-01-01", periods=days).date,
            "open": np.exp(opens),
            "high": np.exp(np.maximum(path.max(axis=1), opens)),
            "low": np.exp(np.minimum(path.min(axis=1), opens)),
            "close": np.exp(path[:, -1]),
        }
    )
    return bars, states


def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    k = int(max(labels.max(), truth.max())) + 1
    return max(float(np.mean(np.asarray(p)[labels] == truth)) for p in permutations(range(k)))


@pytest.fixture(scope="module")
def fitted() -> tuple[RegimeHmm, np.ndarray, np.ndarray]:
    bars, truth = simulate(600, seed=4)
    features = daily_features(bars)
    return RegimeHmm.fit(features.x, features.lengths, restarts=3), features.x, truth


def test_labels_recover_the_hidden_regimes_in_volatility_order(fitted) -> None:
    model, x, truth = fitted
    labels = model.labels(x)
    # Without relabelling: state 0 is the calmest, so the labels must equal the truth as is.
    # A threshold cut of the range scores about 0.85 on such a series, an HMM that ignores
    # the persistence less; a wrong state order scores at most ~0.5.
    assert np.mean(labels == truth) >= 0.9
    assert agreement(labels, truth) == pytest.approx(np.mean(labels == truth))
    assert model.states == STATES
    assert (np.diff(model.means[:, -1]) > 0).all()  # mean log range rises: Normal < Crisis
    assert (np.diag(model.forecast_transmat) > 0.8).all()  # the chain's persistence is found


def test_posteriors_are_distributions_and_filtered_ones_never_look_ahead(fitted) -> None:
    model, x, truth = fitted
    filtered, smoothed = model.filtered(x), model.smoothed(x)
    assert filtered.shape == smoothed.shape == (len(x), 3)
    np.testing.assert_allclose(filtered.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0, atol=1e-9)
    # Cut the series just before a change of regime: day t's filtered posterior is the
    # same whether or not the later days exist...
    cut = 300 + int(np.argmax(truth[300:] != truth[299:-1]))
    np.testing.assert_allclose(model.filtered(x[:cut]), filtered[:cut], atol=1e-12)
    # ...while the smoothed one changes when they are added (it uses them).
    assert np.abs(model.smoothed(x[:cut]) - smoothed[:cut]).max() > 1e-3  # numerics: 1e-12
    assert np.abs(filtered - smoothed).max() > 0.3
    ahead = model.next_regime(filtered)
    np.testing.assert_allclose(ahead, filtered @ model.forecast_transmat)
    np.testing.assert_allclose(ahead.sum(axis=1), 1.0, atol=1e-9)


def test_sequences_restart_the_filter_per_symbol(fitted) -> None:
    model, x, _ = fitted
    both = np.vstack([x[:200], x[200:450]])
    per_symbol = model.filtered(both, np.array([200, 250]))
    np.testing.assert_allclose(per_symbol[200:], model.filtered(x[200:450]), atol=1e-12)
    assert np.abs(per_symbol[200:205] - model.filtered(x)[200:205]).max() > 1e-6


def test_round_trip_through_json_gives_identical_posteriors(fitted) -> None:
    model, x, _ = fitted
    loaded = RegimeHmm.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(loaded.filtered(x), model.filtered(x))
    np.testing.assert_array_equal(loaded.smoothed(x), model.smoothed(x))
    assert loaded.states == model.states and loaded.features == ("log_range",)


def test_analytics_and_intervals_of_the_fitted_chain(fitted) -> None:
    model, x, _ = fitted
    a = model.analytics("Crisis")
    np.testing.assert_allclose(a.stationary @ model.forecast_transmat, a.stationary, atol=1e-9)
    assert a.time_to_target[2] == 0 and (a.time_to_target[:2] > 1).all()
    counts = model.expected_transitions(x)
    assert counts.sum() == pytest.approx(len(x) - 1)
    low, high = model.transition_intervals(x, level=0.95)
    assert (low <= model.forecast_transmat + 1e-3).all()
    assert (model.forecast_transmat <= high + 1e-3).all()
    assert (low[:, :] >= 0).all() and (high <= 1).all()
    # The true staying probabilities lie inside their intervals.
    diag = np.arange(3)
    assert (
        (low[diag, diag] <= np.diag(TRANSITIONS)) & (np.diag(TRANSITIONS) <= high[diag, diag])
    ).all()


def test_two_states_are_normal_and_crisis() -> None:
    bars, truth = simulate(400, seed=1)
    features = daily_features(bars)
    model = RegimeHmm.fit(features.x, k=2, restarts=2)
    assert model.states == ("Normal", "Crisis")
    crisis = model.labels(features.x) == 1
    assert crisis[truth == 2].mean() > 0.8 and crisis[truth == 0].mean() < 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close": np.nan}, r"column 'close': expected finite numbers, got nan at row 5"),
        ({"low": -1.0}, r"column 'low': expected prices > 0, got -1.0 at row 5"),
        ({"high": 1.0}, r"expected high >= low, got high 1.0 < low .* at row 5"),
        ({"open": np.inf}, r"column 'open': expected finite numbers, got inf at row 5"),
    ],
)
def test_bad_bars_raise_a_data_error_naming_the_problem(change, message) -> None:
    bars, _ = simulate(40, seed=0)
    for column, value in change.items():
        bars.loc[5, column] = value
    with pytest.raises(DataError, match=message):
        daily_features(bars)


def test_too_few_days_and_bad_arrays_are_data_errors() -> None:
    bars, _ = simulate(25, seed=0)
    features = daily_features(bars)
    with pytest.raises(DataError, match=r"expected at least 30 days for 3 states, got 25"):
        RegimeHmm.fit(features.x)
    with pytest.raises(DataError, match=r"expected finite values, got \[nan\] at row 1"):
        RegimeHmm.fit(np.array([[0.1], [np.nan]]))
    with pytest.raises(DataError, match=r"expected positive lengths summing to 25 days"):
        RegimeHmm.fit(features.x, np.array([10, 10]))
    with pytest.raises(DataError, match=r"expected columns \['high'\]"):
        daily_features(bars.drop(columns=["high"]))
    with pytest.raises(DataError, match=r"ending with 'log_range'"):
        daily_features(bars, features=("log_range", "log_return"))


def test_intraday_bars_become_one_row_per_day_from_the_regular_session() -> None:
    bars = pd.DataFrame(
        {
            "symbol": ["B", "B", "B", "A", "A", "A"],
            "trade_date": ["d1", "d1", "d1", "d1", "d2", "d2"],
            "ts": [3, 1, 2, 1, 2, 3],
            "session": ["post", "regular", "regular", "regular", "regular", "regular"],
            "open": [50.0, 10.0, 11.0, 20.0, 21.0, 22.0],
            "high": [90.0, 12.0, 13.0, 21.0, 23.0, 24.0],
            "low": [1.0, 9.0, 10.0, 19.0, 20.0, 21.0],
            "close": [60.0, 11.0, 12.0, 20.0, 22.0, 23.0],
        }
    )
    features = daily_features(bars, ("log_return", "log_range"))
    assert features.days[["symbol", "trade_date"]].values.tolist() == [
        ["A", "d1"], ["A", "d2"], ["B", "d1"]]  # fmt: skip
    assert features.lengths.tolist() == [2, 1]

    # Intraday bars: the volatility is the log of the day's robust realised volatility
    # (median |bar return| / 0.6745 * sqrt(returns * 252)), not of its high-low range.
    def vol(ratio: float) -> float:
        return float(np.log(abs(np.log(ratio)) / 0.6744897501960817 * np.sqrt(252)))

    expected = [
        [0.0, vol(23 / 22)],  # first day: close over open; one bar, no return: A's median
        [np.log(23 / 20), vol(23 / 22)],
        [np.log(12 / 10), vol(12 / 11)],  # the post-session bar is left out
    ]
    np.testing.assert_allclose(features.x, expected)


def test_an_anomalous_print_moves_the_range_but_not_the_intraday_volatility() -> None:
    minutes = pd.date_range("2024-01-02 14:30", periods=30, freq="1min")
    closes = 100 * np.exp(np.cumsum(np.tile([0.001, -0.001], 15)))
    bars = pd.DataFrame(
        {"symbol": "A", "trade_date": "d1", "window_start": minutes, "open": closes,
         "high": closes * 1.0005, "low": closes * 0.9995, "close": closes}
    )  # fmt: skip
    spiked = bars.copy()
    spiked.loc[10, "high"] = closes[10] * 1.5  # one bad print sets the day's high
    calm, bad = daily_features(bars).x[0, -1], daily_features(spiked).x[0, -1]
    assert calm == bad

    def log_range(frame: pd.DataFrame) -> float:
        return float(np.log(np.log(frame["high"].max() / frame["low"].min())))

    assert log_range(spiked) - log_range(bars) > 2  # the range would call it a crisis day
