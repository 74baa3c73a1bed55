"""MLflow side of a tournament: one parent run, one nested run per candidate (params, metrics,
signature, input example, its pyfunc named after it, the parent's lineage tags, a start time
when its training began), the train/test sets as MLflow datasets with their Delta table and
version as source, the leaderboard as an artifact, and the winner's registration with lineage
tags."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from finml.models.pyfunc import log_pyfunc

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.settings import ModelSettings
    from finml.models.tournament import CandidateResult, TournamentResult
    from finml.models.tuning import StudyResult, TrialRecord


@dataclass(frozen=True)
class LoggedTournament:
    run_id: str
    candidate_runs: dict[str, str]  # candidate -> nested run id
    model_uris: dict[str, str]  # candidate -> logged model URI


_INHERITED = ("finml.", "mlflow.source.git.")  # lineage tags the candidate runs repeat


def _finite(metrics: Mapping[str, float | None]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def _params(params: dict[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v, default=str)[:500] for k, v in params.items()}


def datasets(train: Split, test: Split) -> list[tuple[Any, str]]:
    """MLflow datasets of ``train`` and ``test`` (context ``training`` / ``testing``) whose
    source is the Delta table and version they were read at; in-memory splits have none."""
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.pandas_dataset import from_pandas

    found = []
    for split, context in ((train, "training"), (test, "testing")):
        if split.source is None:
            continue
        name, location, version = split.source
        where = {"path": location} if "/" in location else {"delta_table_name": name}
        source = DeltaDatasetSource(**where, delta_table_version=version)
        dataset = from_pandas(split.frame, source=source, targets="label", name=split.table)
        found.append((dataset, context))
    return found


def log_candidate(
    result: CandidateResult, rank: int, test: Split, inputs: list[tuple[Any, str]]
) -> tuple[str, str]:
    """Log one candidate as a nested run of the active run, with the parent's lineage tags
    and datasets, its run starting when the candidate's training did; returns (run id,
    model URI). The logged model is named after the candidate."""
    import mlflow
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    parent = mlflow.active_run()
    assert parent is not None  # log_tournament checked
    tags = {k: v for k, v in parent.data.tags.items() if k.startswith(_INHERITED)}
    created = mlflow.MlflowClient().create_run(
        parent.info.experiment_id,
        start_time=result.started_ms or None,
        tags=tags | {MLFLOW_PARENT_RUN_ID: parent.info.run_id},
        run_name=result.name,
    )
    with mlflow.start_run(run_id=created.info.run_id, nested=True) as run:
        mlflow.set_tags({"finml.candidate": result.name, "finml.rank": str(rank)})
        mlflow.log_params(_params(result.params) | {"threshold": f"{result.threshold:.6f}"})
        metrics = {f"cv_{k}": v for k, v in result.cv.items()}
        metrics |= {f"holdout_{k}": v for k, v in result.holdout.items()}
        metrics |= {"fit_seconds": result.fit_seconds, "predict_seconds": result.predict_seconds}
        mlflow.log_metrics(_finite(metrics))
        for dataset, context in inputs:
            mlflow.log_input(dataset, context=context)
        info = log_pyfunc(result.model, test.frame, name=result.name)  # type: ignore[arg-type]
    return run.info.run_id, info.model_uri


def log_study(study: StudyResult, settings: ModelSettings) -> str:
    """Log a candidate's Optuna study as a nested run ``tuning <candidate>`` of the active
    run (the study's settings, best value, trial counts, ``trials.csv`` and the Pareto
    front as ``pareto_front.json``), with every trial a nested run of it (its parameters,
    mean and per-fold metric, scoring latency, state and whether it is on the front);
    returns the study run's id."""
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    parent = mlflow.active_run()
    assert parent is not None  # log_tournament checked
    client = mlflow.MlflowClient()
    experiment = parent.info.experiment_id
    tags = {k: v for k, v in parent.data.tags.items() if k.startswith(_INHERITED)}
    metric = settings.primary_metric
    study_run = client.create_run(
        experiment,
        tags=tags | {MLFLOW_PARENT_RUN_ID: parent.info.run_id, "finml.candidate": study.candidate,
                     "finml.study": "optuna"},
        run_name=f"tuning {study.candidate}",
    )  # fmt: skip
    study_id = study_run.info.run_id
    for trial in study.trials:
        _log_trial(
            client, experiment, tags | {MLFLOW_PARENT_RUN_ID: study_id}, study, trial, metric
        )
    trials = _trials_table(study, metric)
    front = trials[trials["pareto"]].sort_values("score_ms_per_1k_rows")
    summary = {
        "best_value": study.best_value,
        "trials": float(len(study.trials)),
        "pruned": float(study.pruned),
        "pareto_size": float(len(front)),
    }
    client.log_batch(
        study_id,
        metrics=[Metric(k, v, int(time.time() * 1000), 0) for k, v in _finite(summary).items()],
        params=[
            Param("sampler", "TPESampler(multivariate=True)"),
            Param("pruner", "MedianPruner(n_startup_trials=2, n_warmup_steps=1)"),
            Param("n_trials", str(settings.tuning.trials)),
            Param("timeout_seconds", str(settings.tuning.timeout_seconds)),
            Param("objective", f"mean walk-forward {metric}"),
            *(Param(f"best_{k}", v) for k, v in _params(study.params).items()),
        ],
    )
    client.log_text(study_id, trials.to_csv(index=False), "trials.csv")
    client.log_dict(study_id, json.loads(front.to_json(orient="records")), "pareto_front.json")
    client.set_terminated(study_id)
    return study_id


def _log_trial(
    client: Any,
    experiment: str,
    tags: dict[str, str],
    study: StudyResult,
    trial: TrialRecord,
    metric: str,
) -> None:
    """One trial as a finished run under its study (``tags`` name the parent)."""
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(
        experiment,
        tags=tags | {"finml.candidate": study.candidate},
        run_name=f"{study.candidate} trial {trial.number}",
    )
    values: dict[str, float | None] = {
        f"fold_{k}_{metric}": v for k, v in enumerate(trial.fold_values)
    }
    values |= {"seconds": trial.seconds, metric: trial.value}
    values["score_ms_per_1k_rows"] = trial.score_ms_per_1k
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, v, now, 0) for k, v in _finite(values).items()],
        params=[Param(k, v) for k, v in _params(trial.params).items()],
        tags=[
            RunTag("finml.trial_state", trial.state),
            RunTag("finml.trial", str(trial.number)),
            RunTag("finml.pareto", str(trial.number in study.pareto).lower()),
        ],
    )
    client.set_terminated(run.info.run_id, "FINISHED" if trial.state != "FAIL" else "FAILED")


def _trials_table(study: StudyResult, metric: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"trial": t.number, "state": t.state, metric: t.value,
             "score_ms_per_1k_rows": t.score_ms_per_1k, "seconds": t.seconds,
             "pareto": t.number in study.pareto, "params": json.dumps(t.params, default=str)}
            for t in study.trials
        ]
    )  # fmt: skip


def log_tournament(
    result: TournamentResult, train: Split, test: Split, settings: ModelSettings
) -> LoggedTournament:
    """Log ``result`` under the active run (the caller opens the parent run)."""
    import mlflow

    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("log_tournament: expected an active MLflow run, got none")
    mlflow.log_params(
        {
            "candidates": ",".join(settings.candidates),
            "folds": settings.folds,
            "seed": settings.seed,
            "primary_metric": settings.primary_metric,
            "train_rows": result.train_rows,
            "test_rows": result.test_rows,
            "features": ",".join(train.features)[:500],
            "tuning": settings.tuning.enabled,
        }
    )
    board = result.leaderboard()
    mlflow.log_text(board.to_csv(index=False), "leaderboard.csv")
    mlflow.log_dict(json.loads(board.to_json(orient="records")), "leaderboard.json")
    winner = result.winner
    mlflow.log_metrics(_finite({f"winner_holdout_{k}": v for k, v in winner.holdout.items()}))
    if result.baseline is not None:
        mlflow.log_metrics(
            _finite({f"baseline_holdout_{k}": v for k, v in result.baseline.holdout.items()})
        )
    inputs = datasets(train, test)
    for dataset, context in inputs:
        mlflow.log_input(dataset, context=context)
    runs, uris = {}, {}
    for rank, candidate in enumerate(result.results, start=1):
        runs[candidate.name], uris[candidate.name] = log_candidate(candidate, rank, test, inputs)
        if candidate.tuning is not None:
            log_study(candidate.tuning, settings)
    mlflow.set_tag("finml.winner", winner.name)
    return LoggedTournament(parent.info.run_id, runs, uris)
