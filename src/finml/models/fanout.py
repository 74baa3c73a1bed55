"""The tournament's fits as independent tasks, and the executors that run them.

Every (candidate, walk-forward fold) fit and every refit on the whole training set depends
only on the candidate, its parameters, the seed and the training rows — never on another
fit. :func:`plan` turns a tournament into :class:`FitTask` s; :func:`run_fit_task` runs one
(a pure function: same task, same rows, same outcome, wherever it runs); an :class:`Executor`
runs a list of them and returns the outcomes in the same order. :class:`SequentialExecutor`
runs them one after the other in this process (the tournament's default);
:class:`ThreadExecutor` runs several at once in this process, each on one thread;
:class:`finml.models.fanout_spark.SparkExecutor` runs them as Spark tasks.

A refit's outcome carries the fitted model and its preprocessor pickled, so the driver gets
the same bytes from either executor and the tournament reads both the same way.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from finml.errors import ConfigError
from finml.models.base import AnomalyModel, Preprocessor
from finml.models.data import Split
from finml.models.roster import build

Fold = tuple[Any, Any]  # (training rows, validation rows): positions, as arrays or ranges
Progress = Callable[[str], None]
FitKind = Literal["fold", "refit"]


@dataclass(frozen=True)
class FitTask:
    """One fit: candidate ``candidate`` with ``params`` on fold ``fold`` (kind ``fold``:
    fit on its training rows, score its validation rows) or on every row (kind ``refit``).
    ``seed`` and ``n_jobs`` are the model's; the seed alone decides the fitted model.

    Raises:
        ConfigError: ``kind`` and ``fold`` do not agree.
    """

    candidate: str
    params: dict[str, Any]
    kind: FitKind
    fold: int | None = None
    seed: int = 42
    n_jobs: int = 1

    def __post_init__(self) -> None:
        fold_ok = isinstance(self.fold, int) and self.fold >= 0
        refit_ok = self.fold is None
        if not (fold_ok if self.kind == "fold" else self.kind == "refit" and refit_ok):
            raise ConfigError(
                f"fit task {self.candidate}: expected kind 'fold' with a fold index >= 0 or "
                f"kind 'refit' without one, got kind={self.kind!r}, fold={self.fold!r}"
            )

    @property
    def label(self) -> str:
        """``lightgbm fold 2`` or ``lightgbm refit`` (fold numbers from 1, as logged)."""
        if self.fold is None:
            return f"{self.candidate} refit"
        return f"{self.candidate} fold {self.fold + 1}"


@dataclass(frozen=True)
class FitOutcome:
    """What a task produced: a fold's validation ``scores`` (float64), or a refit's
    ``model`` (the pickled ``(AnomalyModel, Preprocessor)``) and its ``fit_seconds``.
    ``started_ms`` is when the task started (epoch milliseconds, the worker's clock) and
    ``seconds`` how long it ran, fit, scoring and pickling included."""

    task: FitTask
    scores: np.ndarray | None = None
    model: bytes | None = None
    fit_seconds: float = 0.0
    started_ms: int = 0
    seconds: float = 0.0

    def fitted(self) -> tuple[AnomalyModel, Preprocessor]:
        """The refit's model and preprocessor, unpickled.

        Raises:
            ValueError: the outcome is a fold's (it has no model).
        """
        if self.model is None:
            raise ValueError(f"fit task {self.task.label}: expected a refit outcome, got a fold's")
        model, prep = pickle.loads(self.model)  # noqa: S301 - our own task's outcome
        return model, prep


class Executor(Protocol):
    """Runs fit tasks on ``train`` and its walk-forward ``folds``; outcomes in task order."""

    def map(
        self,
        tasks: Sequence[FitTask],
        train: Split,
        folds: Sequence[Fold],
        progress: Progress | None = None,
    ) -> list[FitOutcome]: ...


class SequentialExecutor:
    """Every task in this process, one after the other, in the given order."""

    def map(
        self,
        tasks: Sequence[FitTask],
        train: Split,
        folds: Sequence[Fold],
        progress: Progress | None = None,
    ) -> list[FitOutcome]:
        note = progress or (lambda _msg: None)
        outcomes = []
        for task in tasks:
            if task.fold == 0:
                note(f"walk-forward {task.candidate}")
            elif task.kind == "refit":
                note(f"refit {task.candidate}")
            outcomes.append(run_fit_task(task, train, folds))
        return outcomes


class ThreadExecutor:
    """``workers`` tasks at once in this process, each fitted on one thread; a refit's model
    then scores on its task's ``n_jobs`` threads.

    On small training sets a fit's own threads mostly wait on each other, and with the
    passive OpenMP waits :mod:`finml.models` sets they sleep and wake at each of the
    thousands of parallel regions a fit opens: a replay retrain on a 2-core machine took
    85 s fitting on two threads one fit after the other, 20-27 s two one-thread fits at
    once (docs/benchmarks.md). LightGBM and XGBoost release the GIL while they fit, and
    every candidate fits the same model on any thread count (deterministic histograms), so
    the outcomes are the sequential ones.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(
        self,
        tasks: Sequence[FitTask],
        train: Split,
        folds: Sequence[Fold],
        progress: Progress | None = None,
    ) -> list[FitOutcome]:
        note = progress or (lambda _msg: None)
        note(f"{len(tasks)} fits, {self.workers} at once")
        with ThreadPoolExecutor(self.workers, thread_name_prefix="fit") as pool:
            return list(
                pool.map(lambda task: run_fit_task(task, train, folds, fit_threads=1), tasks)
            )


def local_executor(n_jobs: int) -> SequentialExecutor | ThreadExecutor:
    """The executor of ``fanout: local``: ``n_jobs`` one-thread fits at once, or one after
    the other when ``n_jobs`` is 1."""
    return ThreadExecutor(n_jobs) if n_jobs > 1 else SequentialExecutor()


def plan(
    names: Sequence[str], params: dict[str, dict[str, Any]], folds: int, *, seed: int, n_jobs: int
) -> list[FitTask]:
    """Every fold task of every candidate of ``names`` (candidate by candidate, fold by
    fold), then their refits: the order in which the tournament ran them in one process."""
    fold_tasks = [
        FitTask(name, dict(params[name]), "fold", k, seed=seed, n_jobs=n_jobs)
        for name in names
        for k in range(folds)
    ]
    refits = [
        FitTask(name, dict(params[name]), "refit", seed=seed, n_jobs=n_jobs) for name in names
    ]
    return fold_tasks + refits


def rows_fitted(task: FitTask, train: Split, folds: Sequence[Fold]) -> int:
    """How many rows ``task`` fits on: its fold's training rows, or all of ``train``."""
    return len(train.frame) if task.fold is None else len(folds[task.fold][0])


def run_fit_task(
    task: FitTask, train: Split, folds: Sequence[Fold], *, fit_threads: int | None = None
) -> FitOutcome:
    """Run ``task`` on ``train`` (the fold's rows given by ``folds[task.fold]``), fitting on
    ``fit_threads`` threads (None: the task's ``n_jobs``); a refit's model then scores on
    the task's ``n_jobs``, as if fitted on them (the same trees either way).

    Raises:
        ConfigError: the task's candidate is not registered (the message names it and the
            task) or its fold is not one of ``folds``.
    """
    started_ms, began = int(time.time() * 1000), time.perf_counter()
    try:
        model = build(task.candidate, task.params, seed=task.seed,
                      n_jobs=fit_threads or task.n_jobs)  # fmt: skip
    except ConfigError as exc:
        raise ConfigError(f"fit task {task.label}: {exc}") from exc
    if task.fold is not None:
        if task.fold >= len(folds):
            raise ConfigError(
                f"fit task {task.label}: expected a fold index below {len(folds)}, got {task.fold}"
            )
        scores = fit_and_score(model, train, folds[task.fold])
        took = time.perf_counter() - began
        return FitOutcome(task, scores=scores, started_ms=started_ms, seconds=took)
    prep = Preprocessor(train.features).fit(train.frame)
    started = time.perf_counter()
    model.fit(prep.transform(train.frame), train.y, train.features)
    fit_seconds = time.perf_counter() - started
    model.use_threads(task.n_jobs)
    blob = pickle.dumps((model, prep), protocol=pickle.HIGHEST_PROTOCOL)
    took = time.perf_counter() - began
    return FitOutcome(
        task, model=blob, fit_seconds=fit_seconds, started_ms=started_ms, seconds=took
    )


def fit_and_score(model: AnomalyModel, train: Split, fold: Fold) -> np.ndarray:
    """Fit ``model`` on the fold's training rows (preprocessing fitted there too) and score
    its validation rows (float64)."""
    return fit_and_time(model, train, fold)[0]


def fit_and_time(model: AnomalyModel, train: Split, fold: Fold) -> tuple[np.ndarray, float]:
    """:func:`fit_and_score`, and the seconds the fitted model took to score (preprocessing
    included: what a caller of the model waits for)."""
    fit_rows, valid_rows = (train.frame.iloc[i] for i in fold)
    prep = Preprocessor(train.features).fit(fit_rows)
    model.fit(prep.transform(fit_rows), fit_rows["label"].to_numpy(), train.features)
    started = time.perf_counter()
    scores = np.asarray(model.score(prep.transform(valid_rows)), dtype=np.float64)
    return scores, time.perf_counter() - started
