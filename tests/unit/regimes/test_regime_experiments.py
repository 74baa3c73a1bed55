"""The regime model's four MLflow experiments (issue 22 item 3): the absorbing chain, forecast
scores, held-out rows and the sensitivity grid against hand computations, then one
``run_regimes`` through a real local MLflow store that leaves the four experiments behind."""

from __future__ import annotations

import math
from datetime import date, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest

from finml import registry
from finml.jobs.regimes import run_regimes
from finml.regimes.absorbing import AbsorbingSummary, absorbed_within, absorption_std
from finml.regimes.analytics import absorption_times
from finml.regimes.comparison import (
    MARKOV_SWITCHING,
    METHODS,
    REGIME_HMM,
    THRESHOLD,
    Inputs,
    compare,
    forecast_scores,
    heldout_origins,
)
from finml.regimes.heldout import split_heldout
from finml.regimes.markov import MarkovChain
from finml.regimes.score import daily_risk
from finml.regimes.sensitivity import FULL, grid, run_grid
from finml.regimes.settings import RegimeSettings
from finml.registry import REGIME_STUDIES
from finml.runtime.delta import DeltaTables

# Normal never jumps to Stress, Stress never to Normal: times to Crisis are geometric
GEOMETRIC = np.array([[0.8, 0.0, 0.2], [0.0, 0.5, 0.5], [0.3, 0.3, 0.4]])
# Normal reaches Crisis only through Stress (the simulated chain below): 23.75 days from
# Normal, 11.25 from Stress
CHAIN = np.array([[0.92, 0.08, 0.0], [0.1, 0.7, 0.2], [0.05, 0.25, 0.7]])
VOLS = (0.10, 0.35, 0.90)


def test_absorbing_times_spread_and_curve_match_the_geometric_law() -> None:
    # From Normal: Crisis w.p. 0.2 per day -> mean 1/0.2 = 5, sd sqrt(0.8)/0.2; from Stress
    # 0.5 -> mean 2, sd sqrt(0.5)/0.5. Crisis itself: 0.
    assert absorption_times(GEOMETRIC, 2) == pytest.approx([5.0, 2.0, 0.0])
    assert absorption_std(GEOMETRIC, 2) == pytest.approx([math.sqrt(0.8) / 0.2, math.sqrt(2), 0])
    curve = absorbed_within(GEOMETRIC, 2, 3)
    assert curve[:, 0] == pytest.approx([0.2, 1 - 0.8**2, 1 - 0.8**3])
    assert curve[:, 2] == pytest.approx([1.0, 1.0, 1.0])  # absorbed at once


def test_absorbing_summary_intervals_hold_the_estimate() -> None:
    states = np.array([0] * 40 + [1] * 20 + [2] * 10 + [0] * 30 + [2] * 5 + [1] * 15)
    chain = MarkovChain.fit(states, smoothing=0.5, bootstrap=200)
    summary = AbsorbingSummary.of(chain, draws=300, seed=1)
    assert summary.matrix[2].tolist() == [0.0, 0.0, 1.0]
    assert summary.matrix[:2].tolist() == chain.matrix[:2].tolist()
    assert (summary.ci_low <= summary.expected + 1e-9).all()
    assert (summary.expected <= summary.ci_high + 1e-9).all()
    assert summary.ci_high[0] > summary.ci_low[0]  # a real interval, not a point
    metrics = summary.metrics()
    assert metrics["time_to_crisis_from_crisis"] == 0.0
    assert metrics["time_to_crisis_from_normal"] == pytest.approx(summary.expected[0])
    within = metrics["p_crisis_within_5d_from_normal"], metrics["p_crisis_within_60d_from_normal"]
    assert 0 < within[0] < within[1]


def test_forecast_scores_by_hand() -> None:
    probs = np.array([[0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    loglik, brier = forecast_scores(probs, np.array([0, 1]))
    # the zero probability is floored at 1e-12, not -inf
    assert loglik == pytest.approx(math.log(0.5) + math.log(1e-12))
    assert brier == pytest.approx((0.25 + 0.0625 + 0.0625 + 0 + 1 + 1) / 2)


def test_heldout_origins_are_the_transitions_the_gate_scores() -> None:
    dates = [date(2024, 3, d) for d in range(1, 9)]
    ids = [0, 0, 1, 2, 2, 1, 0, 0, 1, 1, 1, 0, 2, 2, 1, 0]
    days = pd.DataFrame(
        {"symbol": ["A"] * 8 + ["B"] * 8, "trade_date": dates * 2, "regime_id": ids}
    )
    held = split_heldout(days, 0.25, 1)
    origins = heldout_origins(days, held.fit_mask)
    ids = np.asarray(ids)
    assert ids[origins].tolist() == held.origins.tolist()
    assert ids[origins + 1].tolist() == held.targets.tolist()
    assert origins.tolist() == [5, 6, 13, 14]  # never B's first day after A's last


def daily_bars(days: int = 160, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """One symbol's daily OHLC whose range follows a Markov path of CHAIN."""
    rng = np.random.default_rng(seed)
    path = [0]
    for _ in range(days - 1):
        path.append(int(rng.choice(3, p=CHAIN[path[-1]])))
    close, rows = 100.0, []
    for i, regime in enumerate(path):
        sd = VOLS[regime] / math.sqrt(252)
        open_, close = close, close * math.exp(rng.normal(0, sd))
        spread = abs(rng.normal(0, sd)) + sd
        rows.append({"symbol": "SIM", "trade_date": date(2023, 1, 2) + timedelta(days=i),
                     "open": open_, "high": max(open_, close) * math.exp(spread),
                     "low": min(open_, close) * math.exp(-spread), "close": close,
                     "volume": 1000})  # fmt: skip
    return pd.DataFrame(rows), np.asarray(path)


def test_sensitivity_grid_full_point_is_exact_and_others_move() -> None:
    bars, _ = daily_bars()
    settings = RegimeSettings(method="quantiles", quantiles=(0.6, 0.9), daily_window=5)
    points = grid(settings, daily_bars=True)
    names = [p.name for p in points]
    assert names[0] == FULL and len(names) == len(set(names))
    assert "quantiles_0.6_0.9" not in names  # the full point already is that
    assert {"kmeans", "quantiles_0.5_0.8", "window_1", "window_20", "sample_0.5"} <= set(names)
    intraday = [p.name for p in grid(settings, daily_bars=False)]
    assert not any(n.startswith("window") for n in intraday)
    results = {r.point.name: r for r in run_grid(bars, daily_risk(bars, 5), settings, points)}
    full = results[FULL]
    assert full.max_abs_distance == 0.0 and full.frobenius_distance == 0.0
    assert full.label_stability == 1.0 and full.days == 160
    assert full.shares[0] == pytest.approx(0.6, abs=0.01)  # quantile 0.6 cuts Normal
    lower = results["quantiles_0.5_0.8"]
    assert lower.shares[0] == pytest.approx(0.5, abs=0.01)
    # Days between the 0.5 and 0.6 quantiles (Normal -> Stress) and between 0.8 and 0.9
    # (Stress -> Crisis) change label, nothing else does
    assert lower.label_stability == pytest.approx(0.8, abs=0.02)
    assert lower.max_abs_distance > 0 and lower.frobenius_distance >= lower.max_abs_distance
    assert results["sample_0.5"].days == 80


def test_comparison_reports_a_method_that_cannot_fit_and_scores_the_others() -> None:
    bars, truth = daily_bars(24)
    days = daily_risk(bars, 5)
    days["regime_id"] = truth
    held = split_heldout(days, 0.2, 3)
    inputs = Inputs(days, bars, held.fit_mask, heldout_origins(days, held.fit_mask),
                    CHAIN, truth.astype(float), RegimeSettings(hmm_restarts=0))  # fmt: skip
    results = compare(inputs)
    assert list(results) == list(METHODS)
    hmm = results[REGIME_HMM]  # 19 fit days; 3 states need 30
    assert hmm.status == "failed" and "at least 30 days" in hmm.reason and not hmm.metrics
    threshold = results[THRESHOLD]
    assert threshold.status == "ok" and threshold.metrics["accuracy_vs_truth"] == 1.0
    expected = sum(math.log(CHAIN[o, t]) for o, t in zip(held.origins, held.targets, strict=True))
    assert threshold.metrics["heldout_loglik"] == pytest.approx(expected)
    switching = results[MARKOV_SWITCHING]  # 19 returns for 3 regimes: it may give up
    if switching.status == "failed":
        assert switching.reason and switching.forecasts is None
    else:  # distributions over the three regimes, one per held-out transition
        assert switching.forecasts is not None and switching.forecasts.shape == (
            held.transitions,
            3,
        )
        np.testing.assert_allclose(switching.forecasts.sum(axis=1), 1.0)
        assert switching.metrics["heldout_transitions"] == held.transitions


def test_run_regimes_logs_the_four_experiments(config, tmp_path) -> None:
    bars, _ = daily_bars(100)
    csv = tmp_path / "daily_sim.csv"
    frame = bars.rename(columns={"trade_date": "timestamp"}).drop(columns="symbol")
    frame.iloc[::-1].to_csv(csv, index=False)
    config = config.model_copy(update={"regimes": {"bootstrap": 50, "hmm_restarts": 0}})
    tables = DeltaTables.from_config(config, None)
    report = run_regimes(config, None, tables, csv)
    client = mlflow.MlflowClient()
    assert set(report.study_runs) == set(REGIME_STUDIES)
    assert "MLflow studies of this fit: baseline, absorbing, comparison, sensitivity" in (
        report.summary()
    )
    runs = {}
    for kind, name in REGIME_STUDIES.items():
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None, name
        found = client.search_runs([experiment.experiment_id])
        assert found and all(r.data.tags["finml.regime_run_id"] == report.model_run_id
                             for r in found)  # fmt: skip
        assert all(r.data.tags["finml.regime_model_version"] == str(report.model_version)
                   for r in found)  # fmt: skip
        runs[kind] = found

    (baseline,) = runs["baseline"]
    assert baseline.data.params["method"] == "kmeans" and baseline.data.params["alpha"] == "0.5"
    assert baseline.data.metrics["heldout_loglik"] == pytest.approx(report.heldout_loglik)
    assert baseline.data.metrics["spectral_gap"] == pytest.approx(report.analytics.spectral_gap)
    assert _artifacts(client, baseline) == {"transition_matrix.csv", "transition_matrix.json"}
    logged = mlflow.artifacts.load_dict(f"runs:/{baseline.info.run_id}/transition_matrix.json")
    assert logged["ci_low"] == report.chain.ci_low.tolist()

    (absorbing,) = runs["absorbing"]
    m = absorbing.data.metrics
    assert m["time_to_crisis_from_crisis"] == 0.0
    assert m["time_to_crisis_from_normal"] > m["time_to_crisis_from_stress"] > 0
    assert m["time_to_crisis_from_normal"] == pytest.approx(report.analytics.time_to_target[0])
    assert _artifacts(client, absorbing) == {"absorbing.json", "absorbed_within.csv"}

    parent, children = _family(runs["comparison"], report.study_runs["comparison"])
    assert sorted(c.data.params["method"] for c in children) == sorted(METHODS)
    by_method = {c.data.params["method"]: c for c in children}
    # the threshold chain scored on the gate's own held-out transitions
    threshold = by_method[THRESHOLD].data.metrics
    assert threshold["heldout_loglik"] == pytest.approx(report.heldout_loglik)
    assert threshold["heldout_transitions"] == report.heldout.transitions
    assert by_method[REGIME_HMM].data.tags["finml.status"] == "ok"
    assert "agreement_with_threshold" in by_method[REGIME_HMM].data.metrics
    switching = by_method[MARKOV_SWITCHING].data
    if switching.tags["finml.status"] == "failed":
        assert switching.tags["finml.status_reason"] and "heldout_brier" not in switching.metrics
    else:  # a Brier score of three-way distributions lies in [0, 2]
        assert 0 <= switching.metrics["heldout_brier"] <= 2
        assert switching.metrics["heldout_transitions"] == report.heldout.transitions
    assert _artifacts(client, parent) == {"comparison.csv"}

    parent, children = _family(runs["sensitivity"], report.study_runs["sensitivity"])
    points = {c.info.run_name: c.data.metrics for c in children}
    assert points[FULL]["max_abs_distance"] == 0.0 and points[FULL]["label_stability"] == 1.0
    assert {"window_1", "window_20", "sample_0.5", "sample_0.75"} <= set(points)
    assert any(p["max_abs_distance"] > 0 for p in points.values())
    assert _artifacts(client, parent) == {"sensitivity.csv"}


def test_experiments_setting_off_logs_no_studies(config, tmp_path) -> None:
    bars, _ = daily_bars(60)
    csv = tmp_path / "daily_sim.csv"
    bars.rename(columns={"trade_date": "timestamp"}).drop(columns="symbol").to_csv(csv, index=False)
    config = config.model_copy(update={"regimes": {"bootstrap": 20, "hmm_restarts": 0,
                                                   "experiments": False}})  # fmt: skip
    report = run_regimes(config, None, DeltaTables.from_config(config, None), csv)
    assert report.model_run_id is not None and report.study_runs == {}
    client = mlflow.MlflowClient()
    assert all(client.get_experiment_by_name(n) is None for n in REGIME_STUDIES.values())


def _artifacts(client: mlflow.MlflowClient, run: object) -> set[str]:
    return {a.path for a in client.list_artifacts(run.info.run_id)}  # type: ignore[attr-defined]


def _family(runs: list, parent_id: str) -> tuple[object, list]:
    """The parent run and its children (MLflow's ``mlflow.parentRunId`` tag)."""
    (parent,) = [r for r in runs if r.info.run_id == parent_id]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]
    assert len(children) == len(runs) - 1
    return parent, children


def test_a_study_the_store_refuses_fails_alone_and_the_job_succeeds(config, tmp_path, capsys):
    bars, _ = daily_bars(60)
    csv = tmp_path / "daily_sim.csv"
    bars.rename(columns={"trade_date": "timestamp"}).drop(columns="symbol").to_csv(csv, index=False)
    config = config.model_copy(update={"regimes": {"bootstrap": 20, "hmm_restarts": 0}})
    # The absorbing study's artifacts must go under a regular file: no directory can be made
    # there (whoever runs the test, root included).
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    registry.configure(config)
    absorbing_id = mlflow.create_experiment(
        REGIME_STUDIES["absorbing"], artifact_location=(blocker / "artifacts").as_uri()
    )
    report = run_regimes(config, None, DeltaTables.from_config(config, None), csv)
    assert report.model_version == 1 and report.decision is not None
    assert set(report.study_runs) == set(REGIME_STUDIES) - {"absorbing"}
    (failed,) = mlflow.MlflowClient().search_runs([absorbing_id])
    assert failed.info.status == "FAILED"
    assert "time_to_crisis_from_normal" in failed.data.metrics  # it failed at its artifacts
    err = capsys.readouterr().err
    assert '"event": "regime_study_failed"' in err and '"study": "absorbing"' in err
