"""Replay A/B and the rollback check on tables written by Spark, as the jobs write them: a
feature store with a Spark ``DateType`` ``_trade_date``, and ``model_monitoring`` windows
computed by the real :class:`PerformanceMonitor` from ``predictions`` and labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from finml.serving.sample_model import SAMPLE_FEATURES, log_sample_model, synthetic_rows


def _day_rows(day: date, n: int, seed: int) -> pd.DataFrame:
    frame = synthetic_rows(n, SAMPLE_FEATURES, seed)
    start = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
    frame.insert(0, "symbol", "AAA")
    frame.insert(1, "ts", [start + timedelta(seconds=i) for i in range(n)])
    frame.insert(2, "trade_id", [f"{day:%m%d}-{i:05d}" for i in range(n)])
    return frame


def test_replay_ab_reads_a_spark_written_feature_store(spark, config, tables) -> None:
    from finml.models.replay_ab import run_replay_ab
    from finml.models.settings import ReplayABSettings
    from finml.serving.settings import ServingSettings

    v1 = log_sample_model(config, seed=0, aliases=("champion",)).version
    v2 = log_sample_model(config, seed=1, aliases=("challenger",)).version
    days = [_day_rows(date(2026, 3, d), 300, seed=d) for d in (2, 3)]
    frame = pd.concat(days, ignore_index=True)
    frame["_trade_date"] = [ts.date() for ts in frame["ts"]]
    features = spark.createDataFrame(frame.drop(columns=["label"]))
    assert dict(features.dtypes)["_trade_date"] == "date"
    tables.table("trade_features").overwrite(features)
    labels = frame[frame["_trade_date"] == date(2026, 3, 2)][["symbol", "ts", "trade_id", "label"]]
    tables.table("trade_labels").overwrite(spark.createDataFrame(labels))  # day 3: no labels yet

    name = f"{config.catalog}.{config.db_schema}.anomaly_model"
    ab = run_replay_ab(
        tables, ReplayABSettings(challenger_percent=50.0), ServingSettings(), name, v1, v2
    )
    assert ab is not None and ab.window.days == (date(2026, 3, 2),)  # the complete day
    assert ab.comparison.champion.n + ab.comparison.challenger.n == 300
    written = tables.table("ab_tests").read().collect()
    assert [r["test_id"] for r in written] == [ab.test_id]
    assert (written[0]["champion_versions"], written[0]["challenger_versions"]) == (
        str(v1),
        str(v2),
    )


def test_rollback_check_reads_performance_monitor_windows(spark, config, tables) -> None:
    from finml.models.lifecycle import promote_manual, promote_tagged
    from finml.models.rollback_check import check_rollback
    from finml.models.settings import RollbackPolicy
    from finml.monitoring.performance import PerformanceMonitor
    from finml.registry import CHAMPION, by_alias

    name = f"{config.catalog}.{config.db_schema}.anomaly_model"
    v1 = log_sample_model(config, seed=0, aliases=()).version
    promote_tagged(config, name, v1, event_id="first", kind="gate")
    v2 = log_sample_model(config, seed=1, aliases=()).version
    promote_manual(config, tables, v2, "bad model", live_from=datetime(2026, 3, 4, tzinfo=UTC))

    rng = np.random.default_rng(0)
    scored = []
    for d, version in ((2, v1), (3, v1), (4, v2), (5, v2)):
        day = _day_rows(date(2026, 3, d), 400, seed=d)
        informative = version == v1  # v1 ranks by the truth; v2 scores noise
        score = np.where(day["label"] == 1, 0.7, 0.3) if informative else rng.random(len(day))
        scored.append(day.assign(score=score, prediction=(score >= 0.5).astype(int),
                                 model_name=name, model_version=str(version)))  # fmt: skip
    predictions = pd.concat(scored, ignore_index=True)
    labels = spark.createDataFrame(predictions[["trade_id", "label"]])
    PerformanceMonitor(tables).run(
        spark.createDataFrame(predictions.drop(columns=["label"])), labels
    )

    check = check_rollback(config, tables, policy=RollbackPolicy(min_labelled=50))
    assert check.rolled_back and check.predecessor_source == "live"
    assert check.predecessor_level == 1.0  # v1 separated its windows perfectly
    assert [w.start.date() for w in check.windows] == [date(2026, 3, 4), date(2026, 3, 5)]
    assert by_alias(config, name, CHAMPION).version == v1
    audit = tables.table("rollback_audit").read().collect()
    assert [(r["from_version"], r["to_version"]) for r in audit] == [(str(v2), str(v1))]
    assert tables.table("alerts").read().where("alert_type = 'PERFORMANCE'").count() == 1
