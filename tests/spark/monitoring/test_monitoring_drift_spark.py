"""The Spark drift path agrees with the exact numpy path and writes ``drift_monitoring``."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from finml.jobs.monitoring import run_drift_check
from finml.monitoring.drift import DriftDetector
from finml.monitoring.drift.spark import spark_drift
from finml.monitoring.settings import DriftSettings


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    g = np.random.default_rng(8)
    n = 3000
    ref = pd.DataFrame(
        {
            "x": g.normal(0, 1, n),
            "v": g.lognormal(0, 1, n),
            "k": g.integers(0, 5, n).astype(float),  # heavy ties: repeated quantile edges
            "s": g.choice(["pre", "regular"], n),
        }
    )
    days = np.repeat([date(2024, 1, 2), date(2024, 1, 3)], n // 2)
    shifted = np.where(days == date(2024, 1, 3), 1.0, 0.0)
    cur = pd.DataFrame(
        {
            "trade_date": pd.to_datetime(days),
            "x": g.normal(0, 1, n) + shifted,
            "v": g.lognormal(0, 1, n),
            "k": g.integers(0, 5, n).astype(float),
            "s": np.where(shifted > 0, "post", g.choice(["pre", "regular"], n)),
        }
    )
    return ref, cur


def test_spark_path_matches_numpy_path(spark) -> None:
    ref, cur = _frames()
    settings = DriftSettings()
    exact = DriftDetector(ref, ["x", "v", "k", "s"], ["s"], settings).compare_windows(
        cur, "trade_date"
    )
    approx = spark_drift(
        spark.createDataFrame(ref),
        spark.createDataFrame(cur),
        ["x", "v", "k"],
        ["s"],
        "trade_date",
        settings=settings,
    )
    assert [r.window for r in approx] == [r.window for r in exact]
    for a, e in zip(approx, exact, strict=True):
        assert a.severity == e.severity
        for name in ("x", "v", "k"):
            ca, ce = a.column(name), e.column(name)
            assert ca.count_current == ce.count_current == 1500
            assert ca.population_stability_index == pytest.approx(
                ce.population_stability_index, abs=0.01
            )
            assert ca.js_distance == pytest.approx(ce.js_distance, abs=0.01)
            assert ca.ks_statistic <= ce.ks_statistic + 1e-12  # read at fine edges: lower bound
            assert ca.ks_statistic == pytest.approx(ce.ks_statistic, abs=0.02)
            assert ca.wasserstein_distance == pytest.approx(ce.wasserstein_distance, abs=0.05)
        assert a.column("s") == e.column("s")  # categorical counts are exact
    assert [r.severity for r in approx] == ["NONE", "HIGH"]


def test_run_drift_check_on_spark_frames_writes_the_drift_table(config, spark, tables) -> None:
    ref, cur = _frames()
    check = run_drift_check(
        config,
        spark,
        tables,
        spark.createDataFrame(ref),
        spark.createDataFrame(cur),
        window="trade_date",
        categorical=["s"],
    )
    assert [r.severity for r in check.reports] == ["NONE", "HIGH"]
    stored = tables.table("drift_monitoring").read()
    assert {"window", "column_name", "drift_type", "js_distance", "ks_test",
            "population_stability_index", "wasserstein_distance", "chi_squared_test",
            "severity"} <= set(stored.columns)  # fmt: skip
    rows = stored.where("severity = 'HIGH'").select("column_name", "window.start").collect()
    assert {r["column_name"] for r in rows} == {"x", "s"}
    assert {r["start"].date() for r in rows} == {date(2024, 1, 3)}
    assert stored.count() == 8 and "HIGH" in str(check)
