"""run_regimes end to end on a user's CSV and on simulated bars: Delta table, MLflow model."""

from __future__ import annotations

import math
from datetime import date, timedelta

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.errors import DataError
from finml.jobs.regimes import run_regimes
from finml.regimes.csv_bars import read_ohlcv_csv
from finml.regimes.discretise import assign, fit_thresholds
from finml.regimes.evaluate import best_permutation_accuracy
from finml.regimes.hmm import RegimeHmm
from finml.regimes.hmm_features import daily_features
from finml.regimes.score import daily_risk
from finml.registry import CHAMPION, LATEST, REGIME_MODEL, by_alias, model_name, model_uri
from finml.runtime.delta import DeltaTables

VOLS = (0.10, 0.35, 0.90)


def regime_path(days: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.array([[0.9, 0.08, 0.02], [0.15, 0.75, 0.1], [0.05, 0.25, 0.7]])
    path = [0]
    for _ in range(days - 1):
        path.append(int(rng.choice(3, p=p[path[-1]])))
    return np.array(path)


def write_csv(path, days: int = 120, seed: int = 2) -> np.ndarray:
    """An Alpha Vantage daily CSV (newest first) whose daily range follows a regime path."""
    rng = np.random.default_rng(seed)
    regimes = regime_path(days, seed)
    close, rows = 100.0, []
    start = date(2023, 1, 2)
    for i, regime in enumerate(regimes):
        sd = VOLS[regime] / math.sqrt(252)
        open_ = close
        close = open_ * math.exp(rng.normal(0, sd))
        spread = abs(rng.normal(0, sd)) + sd
        rows.append(
            {
                "timestamp": (start + timedelta(days=i)).isoformat(),
                "open": round(open_, 4),
                "high": round(max(open_, close) * math.exp(spread), 4),
                "low": round(min(open_, close) * math.exp(-spread), 4),
                "close": round(close, 4),
                "volume": int(rng.integers(1_000, 5_000)),
            }
        )
    pd.DataFrame(rows[::-1]).to_csv(path, index=False)
    return regimes


def test_run_regimes_on_a_csv_logs_and_registers_the_model(config, tmp_path) -> None:
    csv = tmp_path / "daily_ibm.csv"
    regimes = write_csv(csv)
    tables = DeltaTables.from_config(config, None)
    report = run_regimes(config, None, tables, csv)
    assert report.source == "csv:daily_ibm.csv"
    # 120 dates: the last 24 are held out; the chain counts the other 95 transitions and the
    # 24 transitions into the held-out dates score it.
    assert report.heldout.days == 24 and report.heldout.transitions == 24
    assert report.chain.counts.sum() == len(regimes) - 1 - 24
    # The daily range score follows the hidden path it was generated from.
    accuracy = best_permutation_accuracy(report.days["regime_id"].to_numpy(), regimes)
    assert accuracy >= 0.7
    states = tables.table("regime_states").to_arrow().to_pandas()
    assert len(states) == len(regimes) and set(states["symbol"]) == {"DAILY_IBM"}
    assert (
        states["p_next_normal"]
        .add(states["p_next_stress"])
        .add(states["p_next_crisis"])
        .between(1 - 1e-9, 1 + 1e-9)
        .all()
    )
    name = model_name(config, REGIME_MODEL)
    assert report.decision is not None and report.decision.decision == "PROMOTE"
    champion, latest = by_alias(config, name, CHAMPION), by_alias(config, name, LATEST)
    assert champion is not None and latest is not None and champion.version == latest.version
    model = mlflow.pyfunc.load_model(model_uri(name, CHAMPION))
    out = model.predict(pd.DataFrame({"regime": ["Crisis", "Normal"], "steps": [1, 3]}))
    assert list(out.columns[:2]) == ["next_regime", "confidence"]
    expected = report.chain.predict_next("Crisis")
    assert out["next_regime"][0] == expected[0]
    assert out["confidence"][0] == pytest.approx(expected[1])
    run = mlflow.get_run(champion.run_id)
    assert run.data.metrics["spectral_gap"] == pytest.approx(report.analytics.spectral_gap)
    # The run carries the regime HMM as plain JSON, which rebuilds it exactly.
    assert report.regime_hmm is not None
    logged = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/analytics.json")["regime_hmm"]
    hmm = RegimeHmm.from_dict(logged["params"])
    x = daily_features(read_ohlcv_csv(csv)).x
    np.testing.assert_array_equal(hmm.filtered(x), report.regime_hmm.model.filtered(x))
    assert run.data.metrics["hmm_stationary_crisis"] == pytest.approx(logged["stationary"][2])


def test_csv_errors_name_file_and_column(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close\n2024-01-02,1,2,0.5,1\n")
    with pytest.raises(DataError, match=r"bad\.csv: expected columns .* missing \['volume'\]"):
        read_ohlcv_csv(bad)
    bad.write_text("timestamp,open,high,low,close,volume\n2024-01-02,1,x,0.5,1,3\n")
    with pytest.raises(DataError, match="column 'high': expected numbers, got 'x'"):
        read_ohlcv_csv(bad)
    with pytest.raises(DataError, match="expected an existing file"):
        read_ohlcv_csv(tmp_path / "missing.csv")


def test_intraday_score_ignores_a_fat_finger_print() -> None:
    rng = np.random.default_rng(0)
    frames = []
    for day, vol in enumerate((0.1, 0.1, 0.8)):
        n = 390
        r = rng.normal(0, vol / math.sqrt(252 * n), n)
        close = 100 * np.exp(np.cumsum(r))
        if day == 1:
            close[200] *= 10  # one fat-finger minute close
        frames.append(
            pd.DataFrame(
                {
                    "symbol": "AAA",
                    "trade_date": date(2024, 1, 2 + day),
                    "window_start": pd.date_range("2024-01-02 14:30", periods=n, freq="min"),
                    "open": close,
                    "high": close,
                    "low": close,
                    "close": close,
                    "session": "regular",
                }
            )
        )
    days = daily_risk(pd.concat(frames))
    scores = days["risk_score"].to_numpy()
    assert scores[0] == pytest.approx(0.1, rel=0.25)
    assert scores[1] == pytest.approx(0.1, rel=0.25)  # the jump did not inflate the day
    assert scores[2] == pytest.approx(0.8, rel=0.25)
    assert days["risk_percentile"].tolist() == [1.0, pytest.approx(days["risk_percentile"][1]), 1.0]


def test_thresholds_methods() -> None:
    scores = np.r_[np.full(10, 0.1), np.full(5, 0.4), np.full(3, 1.0)]
    cuts = fit_thresholds(scores, "kmeans")
    assert (assign(scores, cuts) == np.r_[np.zeros(10), np.ones(5), np.full(3, 2)]).all()
    assert fit_thresholds(scores, "thresholds", thresholds=(0.2, 0.5)).tolist() == [0.2, 0.5]
    assert fit_thresholds(scores, "quantiles", quantiles=(0.5, 0.9)).tolist() == pytest.approx(
        np.quantile(scores, (0.5, 0.9)).tolist()
    )
    with pytest.raises(DataError, match="expected one of"):
        fit_thresholds(scores, "magic")


def test_best_permutation_accuracy() -> None:
    assert best_permutation_accuracy(np.array([2, 2, 0, 1]), np.array([0, 0, 1, 2])) == 1.0
    assert best_permutation_accuracy(np.array([0, 0, 0, 0]), np.array([0, 1, 1, 2])) == 0.5


def test_a_regime_states_table_from_before_the_hmm_gains_its_columns(config, tmp_path) -> None:
    csv = tmp_path / "daily_ibm.csv"
    write_csv(csv, days=90)
    tables = DeltaTables.from_config(config, None)
    old = pd.DataFrame(
        {"symbol": ["DAILY_IBM"], "trade_date": [date(2023, 1, 2)], "regime": ["Stress"],
         "regime_id": np.array([1], dtype="int32")}
    )  # fmt: skip
    tables.table("regime_states").overwrite(pa.Table.from_pandas(old, preserve_index=False))
    report = run_regimes(config, None, tables, csv, log_model=False)
    assert report.regime_hmm is not None
    states = tables.table("regime_states").to_arrow().to_pandas().sort_values("trade_date")
    assert len(states) == 90  # the old row was updated in place, not duplicated
    first = states.iloc[0]
    assert first["regime"] in {"Normal", "Stress", "Crisis"} and first["hmm_regime"] in {
        "Normal", "Stress", "Crisis"}  # fmt: skip
    smoothed = states[["p_smoothed_normal", "p_smoothed_stress", "p_smoothed_crisis"]]
    assert (smoothed.to_numpy().argmax(axis=1) == states["hmm_regime_id"].to_numpy()).all()
    assert report.metrics()["hmm_stationary_normal"] > 0
