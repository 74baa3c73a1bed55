"""Drift metrics against independent computations on fixed seeded data.

Independent references: KS -> ``scipy.stats.ks_2samp``; JS -> ``scipy.spatial.distance.
jensenshannon(base=2)`` on the shares; PSI -> a straightforward loop in this file (edges by
``np.quantile``, bins by ``np.digitize``, the textbook formula with the epsilon floor);
Wasserstein -> ``scipy.stats.wasserstein_distance / np.std(reference)``; chi-squared ->
``scipy.stats.chi2_contingency``; Evidently mode -> Evidently's own ``_psi``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from finml.monitoring.drift import DriftDetector
from finml.monitoring.drift import metrics as m
from finml.monitoring.settings import DriftSettings

TOL = 1e-9


def _psi_by_hand(reference: np.ndarray, current: np.ndarray, bins: int, eps: float) -> float:
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    total = 0.0
    ref_idx, cur_idx = np.digitize(reference, edges), np.digitize(current, edges)
    for b in range(len(edges) + 1):
        r = max(np.mean(ref_idx == b), eps)
        c = max(np.mean(cur_idx == b), eps)
        total += (c - r) * math.log(c / r)
    return total


def _shares_by_hand(reference: np.ndarray, current: np.ndarray, bins: int):
    edges = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    k = len(edges) + 1
    r = np.bincount(np.digitize(reference, edges), minlength=k) / reference.size
    c = np.bincount(np.digitize(current, edges), minlength=k) / current.size
    return r, c


CASES = {
    "normal_shift": lambda g: (g.normal(0, 1, 4000), g.normal(0.3, 1.2, 3000)),
    "same": lambda g: (g.normal(0, 1, 5000), g.normal(0, 1, 5000)),
    "ties": lambda g: (np.round(g.normal(0, 1, 3000), 1), np.round(g.normal(0.1, 1, 2500), 1)),
    "heavy_tail": lambda g: (g.standard_t(2, 6000), g.standard_t(2, 4000) * 1.5),
    "large_asymptotic": lambda g: (g.lognormal(0, 1, 30_000), g.lognormal(0.05, 1, 20_000)),
    "out_of_range": lambda g: (g.uniform(0, 1, 2000), g.uniform(0.5, 2, 2000)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_numeric_metrics_match_independent_computations(case: str) -> None:
    reference, current = CASES[case](np.random.default_rng(20240108))
    settings = DriftSettings(bins=10)
    drift = (
        DriftDetector(pd.DataFrame({"x": reference}), settings=settings)
        .compare(pd.DataFrame({"x": current}))
        .column("x")
    )

    ks = stats.ks_2samp(reference, current)
    assert drift.ks_statistic == pytest.approx(ks.statistic, abs=TOL)
    assert drift.ks_pvalue == pytest.approx(ks.pvalue, abs=TOL, rel=1e-9)
    assert drift.population_stability_index == pytest.approx(
        _psi_by_hand(reference, current, 10, 1e-4), abs=TOL
    )
    ref_shares, cur_shares = _shares_by_hand(reference, current, 10)
    assert drift.js_distance == pytest.approx(
        jensenshannon(ref_shares, cur_shares, base=2), abs=TOL
    )
    expected_w = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert drift.wasserstein_distance == pytest.approx(expected_w, abs=TOL)
    assert drift.count_reference == reference.size and drift.count_current == current.size
    assert 0.0 <= drift.js_distance <= 1.0


def test_same_distribution_is_not_drift_and_a_shift_is() -> None:
    g = np.random.default_rng(1)
    ref = pd.DataFrame({"x": g.normal(0, 1, 5000)})
    detector = DriftDetector(ref)
    assert detector.compare(pd.DataFrame({"x": g.normal(0, 1, 5000)})).severity == "NONE"
    shifted = detector.compare(pd.DataFrame({"x": g.normal(1.0, 1, 5000)})).column("x")
    assert shifted.severity == "HIGH" and shifted.population_stability_index > 0.25


def test_empty_bins_use_the_documented_epsilon() -> None:
    ref = np.array([0.5, 0.5, 0.0, 0.0])  # two empty reference bins
    cur = np.array([0.25, 0.25, 0.25, 0.25])
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + 2 * (0.25 - 1e-4) * math.log(0.25 / 1e-4)
    assert m.psi(ref, cur, 1e-4) == pytest.approx(expected, abs=TOL)
    assert math.isfinite(m.psi(ref, cur, 1e-4))


def test_nan_values_are_ignored() -> None:
    g = np.random.default_rng(3)
    ref, cur = g.normal(size=1000), g.normal(size=800)
    cur_nan = np.concatenate([cur, [np.nan] * 50])
    a = DriftDetector(pd.DataFrame({"x": ref})).compare(pd.DataFrame({"x": cur})).column("x")
    b = DriftDetector(pd.DataFrame({"x": ref})).compare(pd.DataFrame({"x": cur_nan})).column("x")
    assert a == b


def test_evidently_mode_reproduces_evidently_psi() -> None:
    from evidently.legacy.calculations.stattests.psi import _psi
    from evidently.legacy.core import ColumnType

    g = np.random.default_rng(11)
    reference, current = g.normal(0, 1, 3000), g.normal(0.2, 1.1, 2000)
    ours = DriftDetector(
        pd.DataFrame({"x": reference}), settings=DriftSettings(binning="evidently")
    ).compare(pd.DataFrame({"x": current}))
    theirs, _ = _psi(pd.Series(reference), pd.Series(current), ColumnType.Numerical, 0.1)
    assert ours.column("x").population_stability_index == pytest.approx(theirs, abs=TOL)


def test_categorical_with_unseen_category() -> None:
    ref = pd.DataFrame({"s": ["a"] * 600 + ["b"] * 300 + ["c"] * 100})
    cur = pd.DataFrame({"s": ["a"] * 500 + ["b"] * 300 + ["d"] * 200})  # c gone, d new
    drift = DriftDetector(ref, categorical=["s"]).compare(cur).column("s")
    keys = ["a", "b", "c", "d"]
    r = np.array([0.6, 0.3, 0.1, 0.0])
    c = np.array([0.5, 0.3, 0.0, 0.2])
    expected_psi = sum(
        (max(ci, 1e-4) - max(ri, 1e-4)) * math.log(max(ci, 1e-4) / max(ri, 1e-4))
        for ri, ci in zip(r, c, strict=True)
    )
    assert drift.data_type == "categorical" and len(keys) == 4
    assert drift.population_stability_index == pytest.approx(expected_psi, abs=TOL)
    assert drift.js_distance == pytest.approx(jensenshannon(r, c, base=2), abs=TOL)
    table = np.array([[600, 300, 100, 0], [500, 300, 0, 200]])
    chi = stats.chi2_contingency(table, correction=False)
    assert drift.chi_squared_statistic == pytest.approx(chi.statistic, abs=1e-6)
    assert drift.chi_squared_pvalue == pytest.approx(chi.pvalue, abs=TOL)
    assert drift.severity == "HIGH"


def test_report_rows_follow_the_drift_table_contract() -> None:
    from finml.monitoring.schemas import DRIFT_MONITORING

    g = np.random.default_rng(5)
    ref = pd.DataFrame({"x": g.normal(size=500), "s": g.choice(["p", "q"], 500)})
    report = DriftDetector(ref, categorical=["s"]).compare(ref)
    table = report.to_arrow("run-1")
    assert table.schema == DRIFT_MONITORING
    rows = table.to_pylist()
    by_col = {r["column_name"]: r for r in rows}
    assert by_col["x"]["ks_test"]["statistic"] == pytest.approx(0.0)
    assert by_col["x"]["chi_squared_test"] is None and by_col["s"]["ks_test"] is None
    assert {r["drift_type"] for r in rows} == {"BASELINE"}
    assert "psi" in str(report) and "severity" in str(report)


def test_missing_and_non_numeric_columns_are_named() -> None:
    from finml.errors import DataError

    ref = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(DataError, match=r"current frame: expected columns \['x'\]"):
        DriftDetector(ref, columns=["x"]).compare(pd.DataFrame({"y": [1.0]}))
    with pytest.raises(DataError, match="reference column 's': expected a numeric dtype"):
        DriftDetector(ref, columns=["x", "s"])
