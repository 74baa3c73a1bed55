"""Market alerts of a scored batch: EXTREME_MOVE and REGIME_CHANGE once per (symbol, window),
into a real ``alerts`` Delta table (delta-rs)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError
from finml.monitoring.market_alerts import raise_market_alerts
from finml.runtime.delta import DeltaTables

TRANSITION = np.array([[0.93, 0.06, 0.01], [0.12, 0.80, 0.08], [0.05, 0.17, 0.78]])
DAYS = ("2026-03-02", "2026-03-03")
SIGMA = 1e-4


def _trades(spikes: dict[tuple[str, str], int] | None = None, seed: int = 3) -> pd.DataFrame:
    """300 calm trades per symbol and day (log returns ~ N(0, SIGMA)); ``spikes`` puts a
    12-sigma one-trade spike (up, then back) at that index of (symbol, day)."""
    g = np.random.default_rng(seed)
    frames = []
    for symbol in ("AAPL", "MSFT"):
        for day in DAYS:
            returns = g.normal(0, SIGMA, 300)
            at = (spikes or {}).get((symbol, day))
            if at is not None:
                returns[at] += 12 * SIGMA
                returns[at + 1] -= 12 * SIGMA
            ts = pd.date_range(f"{day} 14:30", periods=300, freq="s", tz="UTC")
            prices = 100 * np.exp(np.cumsum(returns))
            frames.append(pd.DataFrame({"symbol": symbol, "ts": ts, "price": prices}))
    return pd.concat(frames, ignore_index=True)


def _raised(tables: DeltaTables) -> pd.DataFrame:
    return tables.table("alerts").to_arrow().to_pandas()


@pytest.fixture
def tables(config) -> DeltaTables:
    return DeltaTables.from_config(config, None)


def test_a_spike_raises_one_extreme_move_per_symbol_and_window(config, tables) -> None:
    trades = _trades({("AAPL", DAYS[0]): 150, ("AAPL", DAYS[1]): 200, ("MSFT", DAYS[1]): 100})
    rows = raise_market_alerts(config, tables, trades)
    # up and back are two extreme returns of one window: one alert, the larger |z|
    assert sorted(r["dedup_key"] for r in rows) == [
        f"EXTREME_MOVE:AAPL:{DAYS[0]}",
        f"EXTREME_MOVE:AAPL:{DAYS[1]}",
        f"EXTREME_MOVE:MSFT:{DAYS[1]}",
    ]
    assert {r["alert_type"] for r in rows} == {"EXTREME_MOVE"}
    assert {r["status"] for r in rows} == {"recorded"}
    spike = next(r for r in rows if r["dedup_key"] == f"EXTREME_MOVE:AAPL:{DAYS[0]}")
    assert spike["created_at"] == trades["ts"].iloc[150].to_pydatetime()  # the spike trade
    assert len(_raised(tables)) == 3
    version = tables.table("alerts").version()

    # the same batch again, long after the dedup window: nothing raised, nothing written
    assert raise_market_alerts(config, tables, trades) == []
    assert tables.table("alerts").version() == version


def test_calm_trades_raise_nothing(config, tables) -> None:
    assert raise_market_alerts(config, tables, _trades()) == []
    assert not tables.table("alerts").exists()


def test_history_fills_the_lookback(config, tables) -> None:
    """A spike among the first 20 returns of a batch alerts only with history before it."""
    trades = _trades({("AAPL", DAYS[1]): 5})
    history = trades[trades["ts"] < pd.Timestamp(DAYS[1], tz="UTC")]
    batch = trades[trades["ts"] >= pd.Timestamp(DAYS[1], tz="UTC")]
    assert raise_market_alerts(config, tables, batch) == []
    rows = raise_market_alerts(config, tables, batch, history=history)
    assert [r["dedup_key"] for r in rows] == [f"EXTREME_MOVE:AAPL:{DAYS[1]}"]


def _states(*path: str, symbol: str = "AAPL") -> pd.DataFrame:
    days = pd.date_range("2026-03-02", periods=len(path), freq="B").date
    return pd.DataFrame({"symbol": symbol, "trade_date": days, "regime": list(path)})


def test_an_improbable_regime_change_raises_regime_change(config, tables) -> None:
    calm = _trades().head(0)
    states = pd.concat([_states("Normal", "Normal", "Crisis"), _states("Normal", symbol="SPY")])
    rows = raise_market_alerts(config, tables, calm, regime_states=states, transition=TRANSITION)
    assert len(rows) == 1
    assert rows[0]["alert_type"] == "REGIME_CHANGE"
    assert rows[0]["dedup_key"] == "REGIME_CHANGE:AAPL:2026-03-04"
    assert "Normal -> Crisis has probability 0.0100" in rows[0]["message"]
    assert rows[0]["severity"] == "HIGH"
    again = raise_market_alerts(config, tables, calm, regime_states=states, transition=TRANSITION)
    assert again == []  # the same latest state: nothing new
    # a probable change (Normal -> Stress, 0.06) raises nothing under the matrix
    probable = _states("Normal", "Normal", "Crisis", "Stress", "Stress", "Normal")
    assert (
        raise_market_alerts(config, tables, calm, regime_states=probable, transition=TRANSITION)
        == []
    )


def test_without_a_matrix_any_change_of_the_latest_state_alerts(config, tables) -> None:
    calm = _trades().head(0)
    rows = raise_market_alerts(config, tables, calm, regime_states=_states("Normal", "Stress"))
    assert [(r["dedup_key"], r["severity"]) for r in rows] == [
        ("REGIME_CHANGE:AAPL:2026-03-03", "MEDIUM")
    ]
    unchanged = _states("Normal", "Stress", "Stress")
    assert raise_market_alerts(config, tables, calm, regime_states=unchanged) == []


def test_bad_inputs_are_named(config, tables) -> None:
    with pytest.raises(DataError, match=r"trades: expected columns \['price'\]"):
        raise_market_alerts(config, tables, pd.DataFrame({"symbol": ["A"], "ts": [date.today()]}))
    with pytest.raises(DataError, match="expected one of"):
        raise_market_alerts(config, tables, _trades().head(0), regime_states=_states("N", "X"))


def test_champion_transition_is_the_registered_regime_models_matrix(config) -> None:
    from finml.monitoring.market_alerts import champion_transition
    from finml.regimes.markov import MarkovChain
    from finml.regimes.pyfunc import log_regime_model

    assert champion_transition(config) is None  # no regime model yet
    chain = MarkovChain.fit(np.array([0, 0, 1, 2, 1, 0, 0, 1, 1, 2, 2, 0]), bootstrap=10)
    log_regime_model(config, chain, {}, {}, {"source": "test"}, ("champion",))
    matrix, states = champion_transition(config)
    assert states == ("Normal", "Stress", "Crisis")
    np.testing.assert_allclose(matrix, chain.matrix)
