"""Fit tasks (issue 21 item 3): the sequential executor answers as the tournament did before
the fits became tasks, and the Spark task body, fed what Spark would pass it in any order,
answers exactly as the sequential executor. No Spark here: the Spark run is a Spark test."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from finml.errors import ConfigError, DataError
from finml.models.base import Preprocessor
from finml.models.data import split_from_frame, walk_forward_folds
from finml.models.fanout import (
    FitTask,
    SequentialExecutor,
    ThreadExecutor,
    local_executor,
    plan,
    run_fit_task,
)
from finml.models.fanout_spark import (
    collect_outcomes,
    decode_rows,
    decode_task,
    encode_rows,
    encode_task,
    run_task_group,
)
from finml.models.roster import build
from finml.models.settings import ModelSettings
from finml.models.synthetic import train_test
from finml.models.tournament import run_tournament

SETTINGS = ModelSettings(
    n_jobs=1,
    candidates=("lightgbm", "random_forest", "isolation_forest", "ensemble"),
    params={"lightgbm": {"n_estimators": 30}, "random_forest": {"n_estimators": 20}},
)
BASE = ("lightgbm", "random_forest", "isolation_forest", "zscore_rule")
TIMES = ["fit_seconds", "predict_seconds"]


@pytest.fixture(scope="module")
def splits():
    train, test = train_test(2000, seed=3)
    return split_from_frame(train, "train_set"), split_from_frame(test, "test_set")


@pytest.fixture(scope="module")
def sequential(splits):
    return run_tournament(*splits, SETTINGS)


class FanoutShaped:
    """An executor that does what the Spark one does, without Spark: every task encoded,
    the rows cut into Arrow chunks, each task's group built as Spark would pass it (rows
    shuffled) and given to the Spark task body, the tasks in shuffled order."""

    def __init__(self, chunk_rows: int = 300, seed: int = 0) -> None:
        self.chunk_rows, self.rng = chunk_rows, random.Random(seed)

    def map(self, tasks, train, folds, progress=None):
        chunks = encode_rows(train, self.chunk_rows)
        order = list(range(len(tasks)))
        self.rng.shuffle(order)
        rows = []
        for task_id in order:
            group = pd.DataFrame(
                {
                    "task_id": np.int64(task_id),
                    "task": [encode_task(tasks[task_id], folds)] * len(chunks),
                    "chunk_no": np.arange(len(chunks), dtype=np.int32),
                    "chunk": chunks,
                }
            ).sample(frac=1.0, random_state=task_id)
            out = run_task_group(group)
            rows.append((out["task_id"].iloc[0], out["outcome"].iloc[0]))
        return collect_outcomes(rows, tasks)


def test_sequential_executor_scores_as_the_tournament_did_in_process(splits, sequential) -> None:
    train, test = splits
    folds = walk_forward_folds(train.frame["ts"], SETTINGS.folds)
    by_name = {r.name: r for r in sequential.results}
    for name in BASE:  # the pre-task computation, written out: fit in memory, score
        params = {**SETTINGS.params.get(name, {})}
        for k, (fit, valid) in enumerate(folds):
            rows, held = train.frame.iloc[fit], train.frame.iloc[valid]
            prep = Preprocessor(train.features).fit(rows)
            model = build(name, params, seed=SETTINGS.seed, n_jobs=SETTINGS.n_jobs)
            model.fit(prep.transform(rows), rows["label"].to_numpy(), train.features)
            np.testing.assert_array_equal(
                by_name[name].fold_scores[k], model.score(prep.transform(held))
            )
        prep = Preprocessor(train.features).fit(train.frame)
        model = build(name, params, seed=SETTINGS.seed, n_jobs=SETTINGS.n_jobs)
        model.fit(prep.transform(train.frame), train.y, train.features)
        expected = np.clip(model.score(prep.transform(test.frame)), 0.0, 1.0)
        np.testing.assert_array_equal(by_name[name].holdout_scores, expected)
        assert by_name[name].params == model.params
    assert [r.name for r in sequential.results][-1] == "zscore_rule"
    assert set(by_name) == {*BASE, "ensemble"}


def test_fanout_shaped_run_is_identical_to_the_sequential_one(splits, sequential) -> None:
    notes: list[str] = []
    fanned = run_tournament(*splits, SETTINGS, notes.append, executor=FanoutShaped())
    pd.testing.assert_frame_equal(
        fanned.leaderboard().drop(columns=TIMES), sequential.leaderboard().drop(columns=TIMES)
    )
    for mine, theirs in zip(fanned.results, sequential.results, strict=True):
        assert mine.name == theirs.name
        for a, b in zip(mine.fold_scores, theirs.fold_scores, strict=True):
            assert a.dtype == np.float64 and np.array_equal(a, b)
        np.testing.assert_array_equal(mine.holdout_scores, theirs.holdout_scores)
    assert notes == []  # progress is the executor's: this one reports nothing


def test_threaded_run_is_identical_to_the_sequential_one(splits, sequential) -> None:
    """Two one-thread fits at once (``fanout: local`` with ``n_jobs: 2``), the tuned
    candidate's trials fitting their folds at once too: the same tournament."""
    settings = SETTINGS.model_copy(update={"n_jobs": 2})
    assert isinstance(local_executor(2), ThreadExecutor)
    assert isinstance(local_executor(1), SequentialExecutor)
    notes: list[str] = []
    threaded = run_tournament(*splits, settings, notes.append)
    pd.testing.assert_frame_equal(
        threaded.leaderboard().drop(columns=TIMES), sequential.leaderboard().drop(columns=TIMES)
    )
    for mine, theirs in zip(threaded.results, sequential.results, strict=True):
        for a, b in zip(mine.fold_scores, theirs.fold_scores, strict=True):
            assert np.array_equal(a, b)
        np.testing.assert_array_equal(mine.holdout_scores, theirs.holdout_scores)
    assert notes == ["16 fits, 2 at once"]  # 4 base candidates x (3 folds + refit)


def test_a_threaded_refit_scores_on_its_tasks_threads(splits) -> None:
    train = splits[0]
    folds = walk_forward_folds(train.frame["ts"], SETTINGS.folds)
    params = {n: SETTINGS.params.get(n, {}) for n in ("lightgbm", "isolation_forest")}
    tasks = plan(list(params), params, len(folds), seed=7, n_jobs=2)
    outcomes = ThreadExecutor(2).map(tasks, train, folds)
    assert [o.task for o in outcomes] == tasks  # in task order, as planned
    for outcome in (o for o in outcomes if o.task.kind == "refit"):
        model, _ = outcome.fitted()
        assert model.n_jobs == 2 and model.model.get_params()["n_jobs"] == 2


def test_task_outcomes_match_task_by_task_in_any_order(splits) -> None:
    train = splits[0]
    folds = walk_forward_folds(train.frame["ts"], SETTINGS.folds)
    params = {n: SETTINGS.params.get(n, {}) for n in ("lightgbm", "zscore_rule")}
    tasks = plan(list(params), params, len(folds), seed=7, n_jobs=1)
    assert [t.label for t in tasks][:4] == [
        "lightgbm fold 1", "lightgbm fold 2", "lightgbm fold 3", "zscore_rule fold 1"
    ]  # fmt: skip
    notes: list[str] = []
    sequential = SequentialExecutor().map(tasks, train, folds, notes.append)
    assert notes == ["walk-forward lightgbm", "walk-forward zscore_rule",
                     "refit lightgbm", "refit zscore_rule"]  # fmt: skip
    fanned = FanoutShaped(chunk_rows=128, seed=5).map(tasks, train, folds)
    for seq, fan in zip(sequential, fanned, strict=True):
        assert seq.task == fan.task
        if seq.task.kind == "fold":
            assert np.array_equal(seq.scores, fan.scores)
        else:
            (a, prep_a), (b, prep_b) = seq.fitted(), fan.fitted()
            assert prep_a == prep_b and a.params == b.params
            X = prep_a.transform(splits[1].frame)
            np.testing.assert_array_equal(a.score(X), b.score(X))


def test_encoded_task_and_rows_round_trip(splits) -> None:
    train = splits[0]
    folds = walk_forward_folds(train.frame["ts"], 3)
    task = FitTask("lightgbm", {"n_estimators": 5}, "fold", 2, seed=1, n_jobs=1)
    blob = encode_task(task, folds)
    decoded, compact = decode_task(blob)
    assert decoded == task and len(blob) < 1000  # contiguous folds travel as ranges
    for (fit, valid), (cfit, cvalid) in zip(folds, compact, strict=True):
        assert isinstance(cfit, range) and list(cfit) == fit.tolist()
        assert list(cvalid) == valid.tolist()
    frame = train.frame.copy()
    frame.loc[5, "f1"], frame.loc[6, "f2"] = np.nan, np.inf  # kept as they are
    rows = decode_rows(encode_rows(replace(train, frame=frame), 700))
    assert rows.features == train.features
    expected = frame[["label", *train.features]]
    pd.testing.assert_frame_equal(rows.frame, expected, check_exact=True)


def test_an_unknown_candidate_fails_naming_it(splits) -> None:
    train = splits[0]
    folds = walk_forward_folds(train.frame["ts"], 3)
    task = FitTask("no_such_model", {}, "fold", 0)
    with pytest.raises(ConfigError, match=r"fit task no_such_model fold 1: .*'no_such_model'"):
        run_fit_task(task, train, folds)
    group = pd.DataFrame({"task_id": [0], "task": [encode_task(task, folds)],
                          "chunk_no": [0], "chunk": encode_rows(train, 10_000)})  # fmt: skip
    with pytest.raises(ConfigError, match="no_such_model"):
        run_task_group(group)


def test_malformed_tasks_and_groups_are_refused(splits) -> None:
    with pytest.raises(ConfigError, match="kind='fold', fold=None"):
        FitTask("lightgbm", {}, "fold")
    with pytest.raises(ConfigError, match="kind='refit', fold=1"):
        FitTask("lightgbm", {}, "refit", 1)
    folds = walk_forward_folds(splits[0].frame["ts"], 3)
    chunks = encode_rows(splits[0], 500)
    group = pd.DataFrame({"task_id": np.int64(0),
                          "task": [encode_task(FitTask("lightgbm", {}, "refit"), folds)] * 3,
                          "chunk_no": [0, 1, 3], "chunk": chunks[:3]})  # fmt: skip
    with pytest.raises(DataError, match=r"chunks 0..2, got task_ids \[0\] and chunks \[0, 1, 3\]"):
        run_task_group(group)
    with pytest.raises(DataError, match="got none for"):
        collect_outcomes([], [FitTask("lightgbm", {}, "refit")])
