"""PerformanceMonitor on small predictions / inference_log tables with labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from finml.jobs.monitoring import run_monitoring
from finml.monitoring.performance import PerformanceMonitor
from finml.monitoring.settings import TriggerPolicy
from finml.monitoring.trigger import RetrainingTrigger


def _scored(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = np.random.default_rng(seed)
    label = (g.random(n) < 0.2).astype(int)
    score = np.clip(0.35 * label + g.random(n) * 0.65, 0, 1)
    day = np.where(np.arange(n) < n // 2, 0, 1)
    ts = [datetime(2024, 1, 2, 15) + timedelta(days=int(d), seconds=i) for i, d in enumerate(day)]
    scored = pd.DataFrame(
        {
            "symbol": "AAPL",
            "ts": ts,
            "trade_id": [f"t{i}" for i in range(n)],
            "score": score,
            "prediction": (score >= 0.5).astype(int),
            "model_name": "finml_local.markets.anomaly_model",
            "model_version": "3",
            "scored_at": datetime(2024, 1, 5),
        }
    )
    labels = pd.DataFrame({"trade_id": scored["trade_id"], "label": label})
    return scored, labels.iloc[: n - 20]  # the last 20 rows have no label yet


def test_window_metrics_equal_sklearn(spark, tables) -> None:
    scored, labels = _scored()
    records = PerformanceMonitor(tables).run(
        spark.createDataFrame(scored), spark.createDataFrame(labels)
    )
    assert len(records) == 2
    joined = scored.merge(labels, on="trade_id")
    for rec, (_, part) in zip(records, joined.groupby(joined["ts"].dt.date), strict=True):
        y, s, p = part["label"], part["score"], part["prediction"]
        assert rec["labelled_count"] == len(part)
        assert rec["pr_auc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert rec["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert rec["f1"] == pytest.approx(f1_score(y, p), abs=1e-12)
        assert rec["brier_score"] == pytest.approx(np.mean((s - y) ** 2), abs=1e-12)
    assert records[0]["count"] == 200 and records[1]["count"] == 200
    assert records[1]["labelled_count"] == 180
    stored = tables.table("model_monitoring").read()
    assert stored.count() == 2 and "latency_p99_ms" in stored.columns


def test_the_driver_and_spark_paths_give_the_same_records(spark, tables, monkeypatch) -> None:
    """A few days of predictions are measured on the driver; above ``DRIVER_ROWS`` Spark
    groups them (``applyInPandas``). Both give the same records, the window without any
    label included."""
    from finml.runtime.delta import base

    scored, labels = _scored(seed=7)
    scored.loc[scored.index[-5:], "ts"] = datetime(2024, 1, 9, 15)  # a day with no labels
    frames = (spark.createDataFrame(scored), spark.createDataFrame(labels))
    on_driver = PerformanceMonitor(tables).compute(*frames)
    monkeypatch.setattr(base, "DRIVER_ROWS", 0)
    by_spark = PerformanceMonitor(tables).compute(*frames)

    def comparable(records: list[dict]) -> list[dict]:
        return [
            {k: round(v, 12) if isinstance(v, float) else v for k, v in r.items()}
            for r in ({k: v for k, v in r.items() if k != "_computed_at"} for r in records)
        ]

    assert len(on_driver) == 3 and on_driver[2]["labelled_count"] == 0
    assert on_driver[2]["pr_auc"] is None and on_driver[2]["count"] == 5
    assert comparable(on_driver) == comparable(by_spark)


def test_inference_log_latency_percentiles_and_trigger(config, spark, tables) -> None:
    scored, labels = _scored(seed=5)
    g = np.random.default_rng(9)
    log = scored.drop(columns=["scored_at"]).assign(
        request_id=[f"r{i}" for i in range(len(scored))],
        logged_at=scored["ts"] + timedelta(seconds=1),
        variant="champion",
        inputs="{}",
        inputs_hash="h",
        latency_ms=g.gamma(2.0, 3.0, len(scored)),
    )
    log.loc[::7, "ts"] = pd.NaT  # event time missing: logged_at is used
    _write_quality(tables, [("old", 0.2, datetime(2024, 1, 1)), ("new", 0.5, datetime(2024, 1, 4))])
    trigger = RetrainingTrigger(
        TriggerPolicy(violations_needed=1, window_count=1, min_new_samples=0), tables=tables
    )
    result = run_monitoring(
        config,
        spark,
        tables,
        spark.createDataFrame(log),
        spark.createDataFrame(labels),
        source="inference_log",
        baseline_metric=0.99,
        trigger=trigger,
    )
    first = result.performance[0]
    lat = log[log["logged_at"].dt.date == log["logged_at"].dt.date.iloc[0]]["latency_ms"]
    for key, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
        assert first[key] == pytest.approx(np.quantile(lat, q, method="inverted_cdf"))
    assert [d.decision for d in result.decisions] == ["trigger", "skip"]
    assert "metric dropped" in result.decisions[0].reason
    assert result.decisions[1].reason.startswith("cooldown")  # both decided just now
    assert "data_quality: quality score 0.5000 < 0.95" in result.decisions[1].violations  # latest
    assert tables.table("retraining_audit").read().count() == 2
    assert "pr_auc=" in str(result)


def _write_quality(tables, runs: list[tuple[str, float, datetime]]) -> None:
    import pyarrow as pa

    from finml.pipelines.quality import DQ_SCHEMA, DQ_TABLE

    rows = [
        {"run_id": run, "layer": "silver", "table_name": "silver_trades", "quality_score": score,
         "computed_at": at.replace(tzinfo=UTC)}
        for run, score, at in runs
    ]  # fmt: skip
    tables.table(DQ_TABLE).append(pa.Table.from_pylist(rows, schema=DQ_SCHEMA))
