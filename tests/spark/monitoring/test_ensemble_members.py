"""Live per-member monitoring of a registered ensemble: each window's member PR-AUCs from the
version's own members, the EWMA weights they imply, exactly once, and the evidence the next
tournament reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from finml.models.synthetic import labelled_trades

MEMBERS = ("lightgbm", "random_forest")
DAYS = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC),
        datetime(2026, 3, 4, tzinfo=UTC))  # fmt: skip


@pytest.fixture
def registered(config):
    """(model name, version, in-memory pyfunc) of an ensemble logged and registered as the
    training job registers its winner."""
    import mlflow

    from finml import registry
    from finml.models.base import Preprocessor
    from finml.models.ensemble import SoftVotingEnsemble
    from finml.models.pyfunc import AnomalyPyfunc, log_pyfunc
    from finml.models.roster import build

    train = labelled_trades(3000, seed=11, rate=0.05)
    features = (*(c for c in train.columns if c.startswith("f")), "session")
    prep = Preprocessor(features).fit(train)
    x, y = prep.transform(train), train["label"].to_numpy()
    fitted = {m: build(m, seed=0, n_jobs=1).fit(x, y, features) for m in MEMBERS}
    ensemble = SoftVotingEnsemble.compose(fitted, {"lightgbm": [0.8], "random_forest": [0.6]},
                                          alpha=0.5)  # fmt: skip
    model = AnomalyPyfunc(ensemble, prep, 0.3)
    experiment_id = registry.configure(config, registry.ANOMALY_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_pyfunc(model, train)
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    version = registry.register(config, info.model_uri, name, aliases=("champion",)).version
    return name, str(version), model


def _live_rows(model, name: str, version: str) -> pd.DataFrame:
    """Three days of scored trades (the second with a stronger anomaly rate)."""
    days = []
    for i, day in enumerate(DAYS):
        frame = labelled_trades(500, seed=20 + i, rate=0.04 if i != 1 else 0.08)
        frame["ts"] = [day + timedelta(hours=15, seconds=s) for s in range(len(frame))]
        frame["trade_id"] = [f"{i}-{j:05d}" for j in range(len(frame))]
        days.append(frame)
    frame = pd.concat(days, ignore_index=True)
    return pd.concat([frame, model.score_frame(frame)], axis=1).assign(
        model_name=name, model_version=version
    )


def test_members_are_monitored_per_window_once_and_feed_the_next_tournament(
    spark, config, tables, registered
) -> None:
    from finml.jobs.ensemble_monitoring import TABLE, live_evidence, monitor_members
    from finml.models.ensemble import Evidence, member_weights, window_evidence
    from finml.monitoring.performance import PerformanceMonitor

    name, version, model = registered
    rows = _live_rows(model, name, version)
    features = [c for c in rows.columns if c.startswith("f")] + ["session"]
    tables.table("trade_features").overwrite(
        spark.createDataFrame(rows[["symbol", "ts", "trade_id", *features]])
    )
    keys = ["symbol", "ts", "trade_id", "score", "prediction", "model_name", "model_version"]
    scored = spark.createDataFrame(rows[keys])
    labels = spark.createDataFrame(rows[["trade_id", "label"]])
    records = PerformanceMonitor(tables).run(scored, labels)
    assert len(records) == len(DAYS)

    written = monitor_members(config, tables, scored, labels, records)
    assert len(written) == len(DAYS) * len(MEMBERS)
    evidence: dict[str, list[Evidence]] = {m: [] for m in MEMBERS}
    x_all = model.preprocessor.transform(rows)
    for i, day in enumerate(DAYS):
        in_day = (rows["ts"] >= day) & (rows["ts"] < day + timedelta(days=1))
        y = rows.loc[in_day, "label"].to_numpy()
        # each member alone, scored here from the in-memory model
        scores = {m: model.scorer.members[m].score(x_all[in_day]) for m in MEMBERS}
        for member, item in window_evidence(y, scores).items():
            evidence[member].append(item)
        for member in MEMBERS:
            expected = average_precision_score(y, scores[member])
            assert evidence[member][i].pr_auc == pytest.approx(expected, abs=1e-12)
            row = next(r for r in written if r["member"] == member and r["window"]["start"] == day)
            assert row["pr_auc"] == pytest.approx(expected, abs=1e-12)
            assert row["positive_count"] == int(y.sum()) and row["labelled_count"] == 500
            assert row["live_windows"] == i + 1
            assert row["serving_weight"] == pytest.approx(model.scorer.weights[member])
            implied = member_weights({m: evidence[m][: i + 1] for m in MEMBERS}, 0.5)[member]
            assert row["live_weight"] == pytest.approx(implied.weight)
            assert row["confidence"] == pytest.approx(implied.confidence)
            assert row["edge"] == pytest.approx(evidence[member][i].edge)
    last = [r for r in written if r["window"]["start"] == DAYS[-1]]
    assert sum(r["live_weight"] for r in last) == pytest.approx(1.0)

    # exactly once: the same windows again add nothing
    assert monitor_members(config, tables, scored, labels, records) == []
    assert tables.table(TABLE).read().count() == len(DAYS) * len(MEMBERS)
    # the next tournament reads each member's windows back, oldest first
    live = live_evidence(tables, name)
    assert set(live) == set(MEMBERS)
    for member in MEMBERS:
        assert [e.positives for e in live[member]] == [e.positives for e in evidence[member]]
        assert live[member] == pytest.approx(evidence[member])
    assert live_evidence(tables, "other.schema.model") == {}


def test_a_version_that_is_not_an_ensemble_has_no_member_rows(spark, config, tables) -> None:
    from finml.jobs.ensemble_monitoring import TABLE, monitor_members
    from finml.serving.sample_model import log_sample_model

    version = log_sample_model(config, seed=0).version
    name = f"{config.catalog}.{config.db_schema}.anomaly_model"
    record = {"model_name": name, "model_version": str(version),
              "window": {"start": DAYS[0], "end": DAYS[1]}}  # fmt: skip
    scored = spark.createDataFrame(
        pd.DataFrame(
            {
                "trade_id": ["a"],
                "ts": [DAYS[0]],
                "model_name": [name],
                "model_version": [str(version)],
            }
        )
    )
    labels = spark.createDataFrame(pd.DataFrame({"trade_id": ["a"], "label": [1]}))
    features = spark.createDataFrame(pd.DataFrame({"trade_id": ["a"], "f0": [0.0]}))
    assert monitor_members(config, tables, scored, labels, [record], features=features) == []
    assert not tables.table(TABLE).exists()
    assert np.isfinite(version)
