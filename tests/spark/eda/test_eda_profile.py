"""The Spark profile against pandas / numpy on the same rows, and the job's exactly-once
per table version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.eda.columns import profile_columns
from finml.eda.settings import EdaSettings


def _frame(spark, n: int = 400):
    rng = np.random.default_rng(11)
    x = rng.normal(10, 2, n)
    x[:3] = [80.0, -60.0, 70.0]  # three far outliers
    y = 0.5 * x + rng.normal(0, 0.1, n)
    z = rng.uniform(0, 1, n)
    pdf = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "z": z,
            "label": np.where(z > 0.5, "hi", "lo"),
            "ts": pd.date_range("2026-03-02", periods=n, freq="1min", tz="UTC"),
        }
    )
    pdf.loc[5:9, "y"] = np.nan  # missing y ...
    pdf.loc[7:12, "label"] = None  # ... and label, partly on the same rows
    pdf.loc[20, "z"] = np.inf
    pdf.loc[21, "z"] = np.nan  # z: one missing, one infinite (not missing)
    return spark.createDataFrame(pdf), pdf


def _get(stats, statistic: str, column: str | None, **extra):
    found = [
        s
        for s in stats
        if s.statistic == statistic
        and s.column_name == column
        and all((s.detail or {}).get(k) == v for k, v in extra.items())
    ]
    assert len(found) == 1, (statistic, column, found)
    return found[0]


def test_the_profile_equals_pandas_on_the_same_rows(spark) -> None:
    df, pdf = _frame(spark)
    settings = EdaSettings(quantile_accuracy=1_000_000)
    stats = profile_columns(df, settings, correlate=("x", "y", "label"))
    assert _get(stats, "rows", None).value == len(pdf)
    for column in ("x", "y"):
        values = pdf[column].dropna()
        assert _get(stats, "mean", column).value == pytest.approx(values.mean(), rel=1e-12)
        assert _get(stats, "std", column).value == pytest.approx(values.std(ddof=1), rel=1e-9)
        assert _get(stats, "min", column).value == values.min()
        assert _get(stats, "max", column).value == values.max()
        # percentile_approx at full accuracy: the smallest value whose CDF reaches q
        for q in settings.quantiles:
            expected = np.quantile(values, q, method="inverted_cdf")
            assert _get(stats, "quantile", column, q=q).value == expected
    assert _get(stats, "missing", "y").value == 5
    assert _get(stats, "missing", "label").value == 6
    # z: one +inf, left out of every numeric statistic and counted on its own
    assert _get(stats, "infinite", "z").value == 1 and _get(stats, "missing", "z").value == 1
    finite_z = pdf["z"][np.isfinite(pdf["z"])]  # NaN and inf left out
    assert _get(stats, "max", "z").value == finite_z.max()
    assert _get(stats, "type", "ts").detail == "timestamp"
    assert _get(stats, "min", "ts").value == pdf["ts"].min().timestamp()


def test_outliers_histogram_and_co_missing_patterns(spark) -> None:
    df, pdf = _frame(spark)
    settings = EdaSettings(quantile_accuracy=1_000_000, histogram_bins=10)
    stats = profile_columns(df, settings)
    x = pdf["x"]
    q1, q3 = np.quantile(x, [0.25, 0.75], method="inverted_cdf")
    fence = 1.5 * (q3 - q1)
    expected_iqr = int(((x < q1 - fence) | (x > q3 + fence)).sum())
    expected_z = int(((x - x.mean()).abs() > 3 * x.std(ddof=1)).sum())
    assert _get(stats, "outliers_iqr", "x").value == expected_iqr >= 3
    assert _get(stats, "outliers_zscore", "x").value == expected_z >= 3
    histogram = _get(stats, "histogram", "x").detail
    counts, edges = np.histogram(x, bins=10, range=(x.min(), x.max()))
    assert histogram["counts"] == counts.tolist()
    assert histogram["edges"] == pytest.approx(edges.tolist())
    patterns = {
        tuple(s.detail["missing"]): s.value for s in stats if s.statistic == "missing_pattern"
    }
    # rows 5-6 miss y only, 7-9 both, 10-12 label only, 21 z (NaN; row 20's inf is no
    # missing value), the rest nothing
    assert patterns == {(): 391, ("y",): 2, ("y", "label"): 3, ("label",): 3, ("z",): 1}


def test_correlations_equal_numpy_on_complete_rows(spark) -> None:
    df, pdf = _frame(spark)
    stats = profile_columns(df, EdaSettings(), correlate=("x", "y", "label"))
    complete = pdf[["x", "y"]].dropna()
    pearson = _get(stats, "pearson", "x")
    assert pearson.other_column == "y"  # label is no number: not correlated
    assert pearson.value == pytest.approx(complete["x"].corr(complete["y"]), rel=1e-9)
    spearman = _get(stats, "spearman", "x")
    assert spearman.value == pytest.approx(
        complete["x"].corr(complete["y"], method="spearman"), rel=1e-9
    )
    assert pearson.detail == {"rows": len(complete)}


def test_the_job_profiles_each_table_version_once(tables, config, spark) -> None:
    import pyarrow as pa

    from finml.jobs.eda import run_eda

    bars = tables.table("gold_bars_1m")
    minutes = pd.date_range("2026-03-02 14:30", periods=60, freq="1min", tz="UTC")
    rng = np.random.default_rng(5)

    def batch(symbol: str, offset: int) -> pa.Table:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 60)))
        return pa.table(
            {
                "symbol": [symbol] * 60,
                "window_start": minutes + pd.Timedelta(hours=offset),
                "close": close,
                "volume": rng.uniform(1, 5, 60),
            }
        )

    bars.append(batch("AAA", 0))
    first = run_eda(config, tables)
    assert first.profiled == {"gold_bars_1m": 0}
    assert first.skipped["silver_trades"] == "no such table yet"
    profile = tables.table("eda_profile")
    after_first = profile.count()
    rerun = run_eda(config, tables)
    assert rerun.profiled == {} and profile.count() == after_first
    bars.append(batch("BBB", 2))
    second = run_eda(config, tables, only=("gold_bars_1m",))
    assert second.profiled == {"gold_bars_1m": 1}
    rows = profile.read().toPandas()
    assert set(rows["table_version"]) == {0, 1} and set(rows["layer"]) == {"gold"}
    adf = rows[(rows["statistic"] == "adf_pvalue") & (rows["table_version"] == 1)]
    assert set(adf["symbol"]) == {"AAA", "BBB"}
    with pytest.raises(Exception, match="unknown tables"):
        run_eda(config, tables, only=("nope",))


def test_the_driver_path_gives_the_spark_paths_statistics(spark) -> None:
    # Small tables are profiled from their Arrow rows (finml.eda.frame): the same statistics,
    # with exact distinct counts where Spark's HyperLogLog++ is approximate.
    from finml.eda.frame import profile_frame

    df, pdf = _frame(spark)
    settings = EdaSettings(quantile_accuracy=1_000_000, histogram_bins=10)
    on_spark = profile_columns(df, settings, correlate=("x", "y", "z"))
    on_driver = profile_frame(pdf, df.schema.fields, settings, correlate=("x", "y", "z"))

    def keyed(stats):
        found = {}
        for s in stats:
            detail = s.detail if isinstance(s.detail, dict) else {}
            key = (s.statistic, s.column_name, s.other_column, repr(detail.get("q")),
                   tuple(detail.get("missing", ())))  # fmt: skip
            found[key] = s
        return found

    spark_stats, driver_stats = keyed(on_spark), keyed(on_driver)
    assert spark_stats.keys() == driver_stats.keys()
    for key, expected in spark_stats.items():
        got = driver_stats[key]
        if key[0] == "distinct":  # HLL++ at rsd 0.05 against the exact count
            exact = pdf[key[1]].replace([np.inf], np.nan).dropna().nunique()
            assert got.value == exact
            assert expected.value == pytest.approx(exact, rel=0.15), key
        elif key[0] in ("min", "max") and key[1] == "ts":
            assert got.value == expected.value and got.detail == expected.detail
        elif expected.value is None:
            assert got.value is None, key
        else:
            assert got.value == pytest.approx(expected.value, rel=1e-9, abs=1e-12), key
            if key[0] == "histogram" or key[0] == "type":
                assert got.detail == expected.detail, key
