"""Optional Optuna search for one candidate within a trial and wall-time budget.

The objective is the mean walk-forward primary metric on the tournament's own folds, so tuned
and untuned candidates compete on identical data. Sampling is seeded; with a ``timeout`` the
number of finished trials (and so the result) can vary with machine load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from finml.log import get_logger
from finml.models.metrics import MetricSettings, evaluate
from finml.models.roster import candidates

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.settings import ModelSettings

log = get_logger("models.tuning")
FoldScores = Callable[[str, dict[str, Any], "Split", tuple, "ModelSettings"], np.ndarray]


def suggest(trial: Any, space: dict[str, tuple[str, float, float]]) -> dict[str, Any]:
    """Draw one parameter set from ``space`` (kind ``int``, ``float`` or ``log``)."""
    params: dict[str, Any] = {}
    for key, (kind, low, high) in space.items():
        if kind == "int":
            params[key] = trial.suggest_int(key, int(low), int(high))
        else:
            params[key] = trial.suggest_float(key, low, high, log=kind == "log")
    return params


def tune(
    name: str, train: Split, folds: list, settings: ModelSettings, *, fold_scores: FoldScores
) -> dict[str, Any]:
    """The best parameters found for candidate ``name`` (its defaults if none beat them).

    ``fold_scores(name, params, train, fold, settings)`` fits and scores one fold: the
    tournament passes its own, so tuned and untuned candidates are scored the same way.
    """
    import optuna

    space = candidates()[name].search_space
    if not space:
        return {}
    base = dict(settings.params.get(name, {}))

    def objective(trial: optuna.Trial) -> float:
        params = {**base, **suggest(trial, space)}
        values = []
        for fold in folds:
            scores = fold_scores(name, params, train, fold, settings)
            y = train.y[fold[1]]
            values.append(evaluate(y, scores, 0.5, MetricSettings())[settings.primary_metric])
        return float(np.nanmean(values))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=settings.seed)
    )
    study.optimize(
        objective, n_trials=settings.tuning.trials, timeout=settings.tuning.timeout_seconds
    )
    log.info("tuned", candidate=name, trials=len(study.trials), best=study.best_value)
    return {**base, **study.best_params}
