"""The tournament's fits as Spark tasks (issue 21 item 3), on the shared local[2] session:
one Spark task per fit, outcomes equal to the sequential run's, and a tournament that ranks
and scores exactly as it does in one process."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import ConfigError, DataError
from finml.jobs.training import fit_executor
from finml.models.base import Preprocessor
from finml.models.data import split_from_frame, walk_forward_folds
from finml.models.fanout import SequentialExecutor, plan
from finml.models.fanout_spark import SparkExecutor
from finml.models.settings import ModelSettings
from finml.models.synthetic import train_test
from finml.models.tournament import _params, run_tournament

SETTINGS = ModelSettings(
    n_jobs=1,
    candidates=("lightgbm", "random_forest", "isolation_forest", "ensemble"),
    params={"lightgbm": {"n_estimators": 30}, "random_forest": {"n_estimators": 20}},
)
BASE = ("lightgbm", "random_forest", "isolation_forest", "zscore_rule")


@pytest.fixture(scope="module")
def splits():
    train, test = train_test(2000, seed=5)
    return split_from_frame(train, "train_set"), split_from_frame(test, "test_set")


@pytest.fixture(scope="module")
def fit_plan(splits):
    train, _ = splits
    folds = walk_forward_folds(train.frame["ts"], SETTINGS.folds)
    params = {n: _params(n, train, folds, SETTINGS) for n in BASE}
    tasks = plan(BASE, params, len(folds), seed=SETTINGS.seed, n_jobs=SETTINGS.n_jobs)
    return tasks, folds


def test_each_fit_runs_as_its_own_spark_task(spark, splits, fit_plan) -> None:
    from pyspark.sql.functions import spark_partition_id

    tasks, folds = fit_plan
    frame = SparkExecutor(spark, chunk_rows=400).outcome_frame(tasks, splits[0], folds)
    per_partition = frame.groupBy(spark_partition_id().alias("p")).count().collect()
    assert len(tasks) == 4 * 4  # 4 base candidates x (3 folds + the refit)
    assert len(per_partition) == len(tasks)
    assert {row["count"] for row in per_partition} == {1}


def test_spark_outcomes_equal_the_sequential_ones(spark, splits, fit_plan) -> None:
    train, test = splits
    tasks, folds = fit_plan
    local = SequentialExecutor().map(tasks, train, folds)
    fanned = SparkExecutor(spark, chunk_rows=333).map(tasks, train, folds)
    assert [o.task for o in fanned] == list(tasks)  # in plan order, though sent biggest first
    X_test = Preprocessor(train.features).fit(train.frame).transform(test.frame)
    for ours, theirs in zip(fanned, local, strict=True):
        if ours.task.kind == "fold":
            assert ours.scores is not None and theirs.scores is not None
            assert np.array_equal(ours.scores, theirs.scores), ours.task.label
        else:
            (model, prep), (ref, ref_prep) = ours.fitted(), theirs.fitted()
            assert prep.medians == ref_prep.medians
            assert np.array_equal(model.score(X_test), ref.score(X_test)), ours.task.label
    assert len({o.scores.tobytes() for o in fanned if o.scores is not None}) == 12


def test_a_fanned_out_tournament_ranks_and_scores_as_the_local_one(spark, splits) -> None:
    local = run_tournament(*splits, SETTINGS)
    fanned = run_tournament(*splits, SETTINGS, executor=SparkExecutor(spark))
    assert [r.name for r in fanned.results] == [r.name for r in local.results]
    for ours, theirs in zip(fanned.results, local.results, strict=True):
        np.testing.assert_equal(ours.cv, theirs.cv, err_msg=ours.name)  # NaN equals NaN
        np.testing.assert_equal(ours.holdout, theirs.holdout, err_msg=ours.name)
        assert ours.threshold == theirs.threshold, ours.name
        assert ours.cv and ours.holdout
    assert fanned.winner.name == local.winner.name != "zscore_rule"


def test_rows_beyond_the_arrow_budget_are_refused_by_name(spark, splits, fit_plan) -> None:
    tasks, folds = fit_plan
    with pytest.raises(DataError, match=r"encode to .* MiB, expected at most .*max_train_rows"):
        SparkExecutor(spark, max_bytes=1 << 16).outcome_frame(tasks, splits[0], folds)


def test_the_training_job_fans_out_only_when_configured(spark) -> None:
    assert fit_executor(ModelSettings(), spark) is None
    executor = fit_executor(ModelSettings(fanout="spark"), spark)
    assert isinstance(executor, SparkExecutor) and executor.spark is spark
    with pytest.raises(ConfigError, match=r"models\.fanout: expected 'local'"):
        fit_executor(ModelSettings(fanout="spark"), None)
