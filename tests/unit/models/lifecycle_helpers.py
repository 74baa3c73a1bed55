"""Small real models and tables for the promotion / rollback tests: logistic regressions on
two features, each fitted so that only one feature matters, registered in a real MLflow store;
``trade_features`` / ``trade_labels`` and ``model_monitoring`` rows written as Delta tables by
the writers the jobs use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

FEATURES = ("f0", "f1")
DAY = date(2026, 3, 2)


def rows(n: int, *, seed: int, signal: str, day: date = DAY) -> pd.DataFrame:
    """``n`` trades of ``day`` with features f0, f1 and a label set by feature ``signal``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 2)), columns=list(FEATURES))
    start = pd.Timestamp(day.isoformat(), tz="UTC") + pd.Timedelta(hours=14, minutes=30)
    frame.insert(0, "symbol", np.array(["AAA", "BBB", "CCC"])[np.arange(n) % 3])
    frame.insert(1, "ts", start + pd.to_timedelta(np.arange(n), unit="s"))
    frame.insert(2, "trade_id", [f"{day:%Y%m%d}-{seed}-{i:06d}" for i in range(n)])
    frame.insert(3, "label", (frame[signal] > 1.2).astype(np.int64))
    return frame


def register_model(config, signal: str, *, pr_auc: float = 0.8, holdout_end: str = "") -> int:
    """Register a model that scores by feature ``signal`` (the other is ignored); tags as
    training writes them (``finml.metric.pr_auc``, ``finml.holdout_window``)."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from finml import registry
    from finml.serving.sample_model import ThresholdClassifier, log_threshold_model

    registry.configure(config)
    train = rows(600, seed=99, signal=signal)
    x = train[list(FEATURES)].to_numpy(np.float64)
    classifier = LogisticRegression(C=10.0, max_iter=500).fit(x, train["label"])
    with mlflow.start_run(run_name=f"model-{signal}"):
        info = log_threshold_model(ThresholdClassifier(classifier, FEATURES, 0.5), "model")
    tags = {"finml.metric.pr_auc": f"{pr_auc:.6f}"}
    if holdout_end:
        tags["finml.holdout_window"] = f"2026-03-01T14:30:00+00:00/{holdout_end}"
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    return registry.register(config, info.model_uri, name, tags=tags).version


def write_feature_store(tables, frame: pd.DataFrame, *, labelled: pd.DataFrame | None = None):
    """``trade_features`` (keys, ``_trade_date``, features, ``_available_at``) and
    ``trade_labels`` (symbol, ts, trade_id, label) from ``frame``'s rows."""
    features = frame.drop(columns=["label"]).assign(
        _trade_date=frame["ts"].dt.tz_convert("America/New_York").dt.date,
        _available_at=frame["ts"] + pd.Timedelta(seconds=1),
    )
    labels = (labelled if labelled is not None else frame)[["symbol", "ts", "trade_id", "label"]]
    labels = labels.astype({"label": np.int32})
    tables.table("trade_features").append(pa.Table.from_pandas(features, preserve_index=False))
    tables.table("trade_labels").append(pa.Table.from_pandas(labels, preserve_index=False))


def monitoring(tables, name: str, version: int, days: dict[date, float], labelled: int = 200):
    """One ``model_monitoring`` row per day (``{day: pr_auc}``), as PerformanceMonitor
    writes it."""
    from finml.monitoring.schemas import append_records

    now = datetime.now(UTC)
    records = [
        {
            "window": {
                "start": datetime(d.year, d.month, d.day, tzinfo=UTC),
                "end": datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1),
            },
            "granularity": "1 day",
            "model_name": name,
            "model_version": str(version),
            "source": "predictions",
            "count": labelled,
            "labelled_count": labelled,
            "positive_count": labelled // 10,
            "pr_auc": value,
            "_computed_at": now,
        }
        for d, value in days.items()
    ]
    append_records(tables, "model_monitoring", records)
