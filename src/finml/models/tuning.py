"""Optuna studies, one per tuned candidate, within a trial and wall-time budget.

The objective is the mean walk-forward primary metric on the tournament's own folds, so tuned
and untuned candidates compete on identical data. The sampler is a seeded multivariate TPE
(it models the parameters jointly), the median pruner stops a trial whose running mean falls
below earlier trials' at the same fold, and every trial also records how long its fitted
model takes to score 1,000 rows: the trials that no other beats on both metric and latency
form the Pareto front the tournament logs (:mod:`finml.models.tracking`). With a
``timeout`` the number of finished trials (and so the result) can vary with machine load.

With ``workers`` above 1 a trial fits its folds at once, each model on one thread; it still
reports them in fold order and stops at the same fold, so the study is the sequential one
(a pruned trial's later folds are computed and dropped). Its scoring times are then taken
while other folds fit, so they vary more.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from finml.log import get_logger
from finml.models.metrics import MetricSettings, evaluate
from finml.models.roster import candidates

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.settings import ModelSettings

log = get_logger("models.tuning")
# (candidate, params, train, fold, settings) -> (validation scores, scoring seconds)
FoldScores = Callable[
    [str, dict[str, Any], "Split", tuple, "ModelSettings"], tuple[np.ndarray, float]
]


def suggest(trial: Any, space: dict[str, tuple[str, float, float]]) -> dict[str, Any]:
    """Draw one parameter set from ``space`` (kind ``int``, ``float`` or ``log``)."""
    params: dict[str, Any] = {}
    for key, (kind, low, high) in space.items():
        if kind == "int":
            params[key] = trial.suggest_int(key, int(low), int(high))
        else:
            params[key] = trial.suggest_float(key, low, high, log=kind == "log")
    return params


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial: its parameters, state (``COMPLETE`` / ``PRUNED`` / ``FAIL``), the
    mean walk-forward metric (``value``; None unless complete), each fold's metric, its wall
    time and the fitted model's scoring time per 1,000 rows (the latency objective)."""

    number: int
    params: dict[str, Any]
    state: str
    value: float | None
    fold_values: tuple[float, ...]
    seconds: float
    score_ms_per_1k: float | None


@dataclass
class StudyResult:
    """A candidate's study: the chosen parameters (the base ones updated with the best
    trial's), every trial, and the trials on the metric-vs-latency Pareto front."""

    candidate: str
    params: dict[str, Any]
    best_value: float | None
    trials: list[TrialRecord] = field(default_factory=list)
    pareto: tuple[int, ...] = ()

    @property
    def pruned(self) -> int:
        return sum(t.state == "PRUNED" for t in self.trials)


def pareto_front(trials: list[TrialRecord]) -> tuple[int, ...]:
    """Numbers of the complete trials no other complete trial beats on both the metric
    (higher) and the scoring latency (lower), strictly on one of them; by latency."""
    done = [t for t in trials if t.value is not None and t.score_ms_per_1k is not None]
    front = [
        t
        for t in done
        if not any(
            o.value >= t.value  # type: ignore[operator]
            and o.score_ms_per_1k <= t.score_ms_per_1k  # type: ignore[operator]
            and (o.value > t.value or o.score_ms_per_1k < t.score_ms_per_1k)  # type: ignore[operator]
            for o in done
        )
    ]
    return tuple(t.number for t in sorted(front, key=lambda t: (t.score_ms_per_1k, t.number)))


def tune(
    name: str,
    train: Split,
    folds: list,
    settings: ModelSettings,
    *,
    fold_scores: FoldScores,
    workers: int = 1,
) -> StudyResult:
    """Search candidate ``name``'s parameters: a seeded multivariate TPE study whose
    objective is the mean walk-forward primary metric; after each fold a trial reports its
    running mean and the median pruner stops trials below the median of earlier ones at
    that fold. Parameters stay the base ones when the space is empty or no trial finished.

    ``fold_scores(name, params, train, fold, settings)`` fits one fold and returns its
    validation scores and the seconds the fitted model took to score them: the tournament
    passes its own, so tuned and untuned candidates are scored the same way. ``workers``:
    how many of a trial's folds are fitted at once (see the module's docstring).
    """
    import optuna

    space = candidates()[name].search_space
    base = dict(settings.params.get(name, {}))
    if not space:
        return StudyResult(name, base, None)
    records: list[TrialRecord] = []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # multivariate TPE is flagged experimental by Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="fold") as pool:
        objective = _Objective(name, base, space, train, folds, settings, fold_scores, records,
                               pool if workers > 1 else None)  # fmt: skip
        study.optimize(
            objective, n_trials=settings.tuning.trials, timeout=settings.tuning.timeout_seconds
        )
    complete = [t for t in records if t.value is not None]
    best = max(complete, key=lambda t: (t.value, -t.number)) if complete else None
    result = StudyResult(
        name,
        {**base, **(best.params if best else {})},
        best.value if best else None,
        records,
        pareto_front(records),
    )
    log.info("tuned", candidate=name, trials=len(records), pruned=result.pruned,
             best=result.best_value, pareto=list(result.pareto))  # fmt: skip
    return result


@dataclass
class _Objective:
    """One study's objective: a trial's mean walk-forward metric, reported fold by fold
    for the pruner; every trial, pruned or not, is recorded in ``records``."""

    name: str
    base: dict[str, Any]
    space: dict[str, tuple[str, float, float]]
    train: Split
    folds: list
    settings: ModelSettings
    fold_scores: FoldScores
    records: list[TrialRecord]
    pool: ThreadPoolExecutor | None = None  # None: the folds one after the other

    def __call__(self, trial: Any) -> float:
        import optuna

        params = {**self.base, **suggest(trial, self.space)}
        values: list[float] = []
        scored_rows, scoring_seconds = 0, 0.0
        began = time.perf_counter()
        state = "COMPLETE"
        pending = self._start(params)
        try:
            for step, fold in enumerate(self.folds):
                scores, seconds = (
                    pending[step].result()
                    if pending
                    else self.fold_scores(self.name, params, self.train, fold, self.settings)
                )
                y = self.train.y[fold[1]]
                metric = evaluate(y, scores, 0.5, MetricSettings())[self.settings.primary_metric]
                values.append(float(metric))
                scored_rows, scoring_seconds = scored_rows + len(y), scoring_seconds + seconds
                trial.report(float(np.nanmean(values)), step)
                if trial.should_prune():
                    state = "PRUNED"
                    raise optuna.TrialPruned()
            return float(np.nanmean(values))
        except optuna.TrialPruned:
            raise
        except Exception:
            state = "FAIL"
            raise
        finally:
            for future in pending:  # a pruned or failed trial's folds not started yet
                future.cancel()
            latency = scoring_seconds / scored_rows * 1e6 if scored_rows else None  # ms / 1k
            value = float(np.nanmean(values)) if state == "COMPLETE" and values else None
            record = TrialRecord(trial.number, params, state, value, tuple(values),
                                 time.perf_counter() - began, latency)  # fmt: skip
            self.records.append(record)

    def _start(self, params: dict[str, Any]) -> list[Future[tuple[np.ndarray, float]]]:
        """Every fold's fit submitted to the pool, each model on one thread (none: no pool)."""
        if self.pool is None:
            return []
        single = self.settings.model_copy(update={"n_jobs": 1})
        return [
            self.pool.submit(self.fold_scores, self.name, params, self.train, fold, single)
            for fold in self.folds
        ]
