"""The sections users look for (issue 24 item 3): EDA per layer, the detected anomalies feed,
model metrics (precision / recall / F1 per window, the champion's PR curve, feature
importance per version), serving latency and throughput, the settings; and the filter specs
the page's date-range and symbol filters follow."""

from __future__ import annotations

import json

import pytest
from dashboard_sample import NOW, write_sample_warehouse
from pydantic import ValidationError

from finml.dashboard import build_snapshot
from finml.dashboard.extract import ExportContext
from finml.dashboard.schema import Section, TableBlock
from finml.dashboard.sections.eda_series import verdict


@pytest.fixture
def found(config, rs_tables) -> dict[str, Section]:
    write_sample_warehouse(rs_tables)
    return {s.id: s for s in build_snapshot(config, rs_tables, now=NOW).sections}


def _kpis(section: Section) -> dict:
    return {k.label: k.value for k in section.kpis}


def _table(section: Section, table_id: str) -> list[dict]:
    block = next(t for t in section.tables if t.id == table_id)
    return [dict(zip(block.columns, r, strict=True)) for r in block.rows]


def _chart(section: Section, chart_id: str):
    return next(c for c in section.charts if c.id == chart_id)


def test_eda_shows_each_tables_latest_version_per_layer(found) -> None:
    eda = found["eda"]
    profiled = _table(eda, "eda_tables")
    assert [(r["layer"], r["table_name"], r["table_version"]) for r in profiled] == [
        ("bronze", "bronze_trades", 2),  # not the older version 1
        ("silver", "silver_trades", 3),
        ("gold", "gold_bars_1m", 4),
        ("features", "trade_features", 5),
    ]
    assert {r["rows"] for r in profiled} == {1000} and profiled[3]["columns"] == 4
    missing = _table(eda, "eda_missing")
    assert [
        (r["table_name"], r["column_name"], r["missing"], r["missing_fraction"]) for r in missing
    ] == [("bronze_trades", "price", 10, 0.01), ("trade_features", "vol_5m", 20, 0.02)]
    bars = _chart(eda, "eda_missing_fraction").series[0]
    assert bars.x == ["trade_features.vol_5m", "bronze_trades.price"] and bars.y == [0.02, 0.01]
    patterns = _table(eda, "eda_patterns")  # the complete rows are not a pattern
    assert [(r["missing_columns"], r["rows"], r["share"]) for r in patterns] == [
        ("vol_5m", 20, 0.02),
        ("price", 10, 0.01),
    ]
    outliers = _table(eda, "eda_outliers")
    assert len(outliers) == 8  # every column with IQR or z-score outliers (silver volume has none)
    first = outliers[0]
    assert (first["table_name"], first["column_name"], first["outliers_iqr"]) == (
        "bronze_trades",
        "volume",
        30,
    )
    assert (first["outliers_zscore"], first["iqr_share"]) == (8, 0.03)
    assert [r["layer"] for r in outliers] == ["bronze"] * 2 + ["silver", "gold", "gold"] + [
        "features"
    ] * 3
    kpis = _kpis(eda)
    assert (kpis["Tables profiled"], kpis["Layers"]) == (4, "bronze, silver, gold, features")
    assert (kpis["Columns with missing values"], kpis["Columns with IQR outliers"]) == (2, 8)


def test_eda_correlations_are_symmetric_heatmaps_and_strongest_pairs(found) -> None:
    eda = found["eda"]
    pearson = _chart(eda, "eda_pearson_trade_features")
    assert pearson.kind == "heatmap" and pearson.z_range == [-1.0, 1.0]
    assert pearson.x_labels == ["ret_1m", "vol_5m", "spread_z", "volume_z"]
    assert pearson.z[0] == [1.0, 0.9, -0.2, 0.1]
    assert all(pearson.z[i][j] == pearson.z[j][i] for i in range(4) for j in range(4))
    assert _chart(eda, "eda_spearman_trade_features").z[1][2] == pytest.approx(-0.63)
    pairs = _table(eda, "eda_pairs_trade_features")
    assert [(r["column_name"], r["other_column"]) for r in pairs[:3]] == [
        ("ret_1m", "vol_5m"),
        ("vol_5m", "spread_z"),
        ("vol_5m", "volume_z"),
    ]
    assert (pairs[1]["pearson"], pairs[1]["spearman"]) == (-0.7, pytest.approx(-0.63))


def test_eda_stationarity_per_symbol_and_intraday_profile(found) -> None:
    eda = found["eda"]
    block = next(t for t in eda.tables if t.id == "eda_stationarity")
    assert block.filter.symbol == "symbol"
    tested = {(r["symbol"], r["series"]): r for r in _table(eda, "eda_stationarity")}
    assert {k: r["verdict"] for k, r in tested.items()} == {
        ("AAPL", "log_price"): "unit root",
        ("AAPL", "log_return"): "stationary",
        ("MSFT", "log_price"): "unit root",
        ("MSFT", "log_return"): "stationary",
        ("SPY", "log_price"): "unit root",
        ("SPY", "log_return"): "unit root",
    }
    aapl = tested[("AAPL", "log_price")]
    assert (aapl["adf_pvalue"], aapl["kpss_pvalue"], aapl["trend_per_day"], aapl["trend_r2"]) == (
        0.6,
        0.01,
        0.001,
        0.5,
    )
    assert tested[("AAPL", "log_return")]["trend_per_day"] is None
    assert _kpis(eda)["Symbols with stationary returns"] == "2 of 3"
    volume = _chart(eda, "eda_intraday_volume")
    assert [s.name for s in volume.series] == ["AAPL", "MSFT", "SPY"]
    assert volume.series[1].x == ["14:00", "15:00", "16:00"]
    assert volume.series[1].y == [101.0, 80.0, 120.0]
    assert volume.filter.series_symbols and not volume.filter.x_dates


@pytest.mark.parametrize(
    ("adf", "kpss", "expected"),
    [
        (0.01, 0.2, "stationary"),
        (0.3, 0.01, "unit root"),
        (0.01, 0.01, "mixed"),
        (0.3, 0.3, "mixed"),
        (None, 0.3, "untested"),
        (0.05, 0.05, "mixed"),
    ],
)
def test_stationarity_verdict_reads_both_tests_at_five_percent(adf, kpss, expected) -> None:
    assert verdict(adf, kpss) == expected


def test_anomalies_feed_lists_the_newest_flagged_trades_with_features(found) -> None:
    section = found["anomalies"]
    kpis = _kpis(section)
    assert kpis["Flagged trades"] == 29  # 24 batch (4 a day, 6 days) + 5 served
    assert kpis["Flag rate"] == round(100 * 29 / 140, 2)
    assert kpis["Latest flag"] == "2026-03-02T15:19:59+00:00"
    assert kpis["Flagged by"] == "anomaly_model v2, anomaly_model v3"
    block = section.tables[0]
    assert (block.filter.date, block.filter.symbol) == ("ts", "symbol")
    # the features in the latest importance's rank order
    assert block.columns[-4:] == ["vol_5m", "spread_z", "ret_1m", "volume_z"]
    feed = _table(section, "anomalies_feed")
    assert len(feed) == 29
    newest = feed[0]
    assert (newest["trade_id"], newest["source"], newest["model_version"]) == (
        "s8_0",
        "serving challenger",
        "3",
    )
    assert (newest["symbol"], newest["score"], newest["ret_1m"]) == ("AAPL", 0.9, 0.08)
    batch = next(r for r in feed if r["source"] == "batch")  # features from trade_features
    assert (batch["trade_id"], batch["symbol"], batch["model"]) == (
        "t5_19",
        "MSFT",
        "anomaly_model",
    )
    assert (batch["vol_5m"], batch["ret_1m"], batch["volume_z"]) == (5.19, 0.019, -0.5)
    assert [r["ts"] for r in feed] == sorted((r["ts"] for r in feed), reverse=True)
    per_day = {s.name: dict(zip(s.x, s.y, strict=True)) for s in section.charts[0].series}
    assert per_day["batch"]["2026-02-24"] == 4 and per_day["batch"]["2026-03-02"] == 0
    assert per_day["serving champion"]["2026-03-02"] == 4
    assert per_day["serving challenger"]["2026-03-02"] == 1
    assert section.charts[0].filter.x_dates


def test_model_metrics_per_window_pr_curve_and_importance(found) -> None:
    section = found["model_metrics"]
    windows = _chart(section, "metrics_windows")
    assert [s.name for s in windows.series] == ["precision", "recall", "f1"]
    assert windows.series[0].x[0] == "2026-02-24" and windows.y_range == [0.0, 1.0]
    assert windows.series[0].y == pytest.approx([0.8, 0.75, 0.7, 0.65, 0.6, 0.55])
    assert windows.series[2].y[-1] == pytest.approx(2 * 0.55 * 0.7 / 1.25, abs=1e-6)
    kpis = _kpis(section)
    assert (kpis["Latest precision"], kpis["Latest recall"], kpis["Latest f1"]) == (
        0.55,
        0.7,
        0.616,
    )
    rows = _table(section, "metrics_windows_table")
    assert rows[0]["window"] == "2026-03-01" and len(rows) == 6
    # no MLflow store: the latest tournament (t1), its leaderboard winner lightgbm
    curve = _chart(section, "metrics_pr_curve")
    assert [s.name for s in curve.series] == ["lightgbm"]
    assert curve.series[0].x == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert curve.series[0].y == [1.0, 0.9, 0.8, 0.6, 0.3]
    assert curve.series[0].text[0] == "threshold 0.9"
    assert (curve.x_range, curve.y_range) == ([0.0, 1.0], [0.0, 1.0])
    assert "latest v2 (lightgbm, tournament t1)" in curve.title
    bars = _chart(section, "metrics_feature_importance")
    assert bars.horizontal and bars.series[0].x == ["vol_5m", "spread_z", "ret_1m", "volume_z"]
    assert bars.series[0].y == [0.12, 0.05, 0.02, -0.001]
    assert bars.series[0].text[0] == "± 0.01"
    versions = _table(section, "metrics_importance_versions")
    assert [(r["registered_version"], r["candidate"]) for r in versions] == [
        ("2", "lightgbm"),
        ("2", "xgboost"),
        ("1", "lightgbm"),
    ]
    assert versions[2]["top_features"] == "ret_1m (0.2), vol_5m (0.1)"


def test_model_metrics_says_which_training_tables_are_missing(config, rs_tables) -> None:
    import numpy as np
    from dashboard_sample import _model_monitoring

    rs_tables.table("model_monitoring").append(_model_monitoring(np.random.default_rng(1)))
    section = next(
        s for s in build_snapshot(config, rs_tables, now=NOW).sections if s.id == "model_metrics"
    )
    assert section.status == "ok"
    assert [c.id for c in section.charts] == ["metrics_windows"]
    assert section.notes == [
        "`pr_curves` does not exist yet: it is written by `finml train`.",
        "`feature_importance` does not exist yet: it is written by `finml train`.",
    ]


def test_serving_latency_throughput_and_no_invented_error_rate(found) -> None:
    section = found["serving"]
    kpis = _kpis(section)
    assert (kpis["Requests"], kpis["Records scored"]) == (10, 20)
    # per request, not per record: 2..11 ms
    assert (kpis["Latency p50"], kpis["Latency p99"]) == (6.5, 10.91)
    assert kpis["Throughput (last hour)"] == 0.1  # 6 requests in the 60 min to the last
    assert (kpis["/decide decisions"], kpis["/decide p50"], kpis["/decide p99"]) == (2, 8.0, 11.92)
    error = next(k for k in section.kpis if k.label == "Error rate")
    assert error.value == "not recorded" and "no status or error column" in error.detail[0]
    requests = _chart(section, "serving_requests").series[0]
    assert requests.x == ["2026-03-02T14:00:00+00:00", "2026-03-02T15:00:00+00:00"]
    assert requests.y == [6.0, 4.0]
    latency = {s.name: s.y for s in _chart(section, "serving_latency").series}
    assert latency == {"p50": [4.5, 9.5], "p99": [pytest.approx(6.95), pytest.approx(10.97)]}
    versions = _table(section, "serving_versions")
    assert [(r["model_version"], r["variant"], r["requests"], r["records"]) for r in versions] == [
        ("3", "challenger", 2, 4),
        ("2", "champion", 8, 16),
    ]


def test_settings_show_the_config_with_secrets_redacted(config, rs_tables, monkeypatch) -> None:
    from finml.config import SparkSettings
    from finml.dashboard.sections.configuration import REDACTED, settings

    monkeypatch.setenv("FINML_API_TOKEN", "tok-123")
    conf = {"spark.hadoop.fs.s3a.secret.key": "s3cr3t", "spark.hadoop.fs.s3a.access.key": "AKIA"}
    shown = config.model_copy(
        update={
            "spark": SparkSettings(conf=conf),
            "mlflow_tracking_uri": "https://ml:hunter2@mlflow.example:5000",
        }
    )
    section = settings(ExportContext(shown, rs_tables, NOW))
    text = section.model_dump_json()
    for secret in ("s3cr3t", "AKIA", "hunter2", "tok-123"):
        assert secret not in text, secret
    values = dict(next(t for t in section.tables if t.id == "settings_config").rows)
    assert values["spark.conf.spark.hadoop.fs.s3a.secret.key"] == REDACTED
    assert values["spark.conf.spark.hadoop.fs.s3a.access.key"] == REDACTED
    assert values["mlflow_tracking_uri"] == f"https://ml:{REDACTED}@mlflow.example:5000"
    assert values["catalog"] == config.catalog and values["spark.master"] == "local[2]"
    # component sections are resolved with their defaults, not only what a file set
    assert values["dashboard.port"] == "8050" and values["eda.zscore"] == "3.0"
    secrets = dict(next(t for t in section.tables if t.id == "settings_secrets").rows)
    assert secrets["FINML_API_TOKEN"] == "set" and secrets["DATABRICKS_TOKEN"] == "unset"
    versions = dict(next(t for t in section.tables if t.id == "settings_versions").rows)
    assert set(versions) == {
        "python",
        "finml",
        "pyspark",
        "delta-spark",
        "deltalake",
        "mlflow",
        "pandas",
        "pyarrow",
        "plotly",
    }
    import importlib.metadata

    assert versions["mlflow"] == importlib.metadata.version("mlflow")
    assert _kpis(section)["Environment"] == config.env


def test_filters_name_columns_the_table_has(found) -> None:
    with pytest.raises(ValidationError, match="filter: expected a column"):
        TableBlock(id="t", title="T", columns=["a"], rows=[], filter={"date": "ts"})
    filtered = {t.id: t.filter for s in found.values() for t in s.tables if t.filter}
    assert filtered["decisions_feed"].symbol == "symbol"
    assert filtered["alerts_feed"].date == "created_at"
    assert set(filtered) >= {"anomalies_feed", "metrics_windows_table", "eda_stationarity"}
    charts = {c.id: c.filter for s in found.values() for c in s.charts if c.filter}
    assert charts["regimes_timeline"].series_symbols and charts["regimes_timeline"].x_dates
    assert charts["alerts_per_day"].x_dates and charts["serving_requests"].x_dates
    json.dumps([f.model_dump() for f in filtered.values()])  # plain JSON for the page
