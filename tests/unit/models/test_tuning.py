"""Optuna studies: parameters from the search space, pruning of poor trials, the
metric-vs-latency Pareto front, and every trial a nested MLflow run of its study."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from finml.models.data import split_from_frame, walk_forward_folds
from finml.models.settings import ModelSettings, TuningSettings
from finml.models.synthetic import train_test
from finml.models.tuning import StudyResult, TrialRecord, pareto_front, tune


@pytest.fixture(scope="module")
def train():
    return split_from_frame(train_test(1500, seed=3)[0], "train_set")


def _settings(trials: int) -> ModelSettings:
    return ModelSettings(
        n_jobs=1,
        params={"xgboost": {"n_estimators": 20}},
        tuning=TuningSettings(
            enabled=True, trials=trials, timeout_seconds=120, candidates=("xgboost",)
        ),
    )


def test_tuning_returns_params_within_the_space(train) -> None:
    from finml.models.tournament import fold_scores

    folds = walk_forward_folds(train.frame["ts"], 2)
    study = tune("xgboost", train, folds, _settings(2), fold_scores=fold_scores)
    params = study.params
    assert 3 <= params["max_depth"] <= 10 and 0.01 <= params["learning_rate"] <= 0.3
    assert 100 <= params["n_estimators"] <= 400  # the search space overrides the base value
    assert [t.number for t in study.trials] == [0, 1]
    assert all(t.score_ms_per_1k is not None and t.score_ms_per_1k > 0 for t in study.trials)
    assert study.best_value == max(t.value for t in study.trials if t.value is not None)


def _rigged(name, params, train, fold, settings):
    """Perfect scores when the learning rate is above 0.15, the labels reversed otherwise;
    a fixed scoring time that grows with the trees (the latency objective)."""
    y = train.y[fold[1]].astype(float)
    scores = y if params["learning_rate"] > 0.15 else 1.0 - y
    return scores, params["n_estimators"] * 1e-6


def test_poor_trials_are_pruned_and_the_best_is_chosen(train) -> None:
    folds = walk_forward_folds(train.frame["ts"], 3)
    study = tune("xgboost", train, folds, _settings(12), fold_scores=_rigged)
    states = [t.state for t in study.trials]
    assert len(states) == 12 and "PRUNED" in states and "COMPLETE" in states
    for trial in study.trials:
        good = trial.params["learning_rate"] > 0.15
        if trial.state == "PRUNED":  # stopped after a fold, never a good one
            assert not good and 1 <= len(trial.fold_values) < 3 and trial.value is None
        elif trial.state == "COMPLETE":
            assert trial.value == pytest.approx(1.0 if good else 0.0, abs=0.2)
    assert study.params["learning_rate"] > 0.15 and study.best_value > 0.8
    assert study.pruned == states.count("PRUNED")
    # the front holds the best trial; along it, slower trials must score strictly better
    by_number = {t.number: t for t in study.trials}
    front = [by_number[n] for n in study.pareto]
    assert front and all(t.state == "COMPLETE" for t in front)
    assert max(t.value for t in front) == study.best_value
    assert all(a.value < b.value for a, b in pairwise(front))


def test_folds_fitted_at_once_give_the_sequential_study(train) -> None:
    """With two workers a trial's folds run at once, yet it reports and prunes fold by
    fold: the same trials, states and values; a pruned trial keeps only its reported folds."""
    folds = walk_forward_folds(train.frame["ts"], 3)
    seen: list[int] = []

    def rigged(name, params, train, fold, settings):
        seen.append(settings.n_jobs)
        return _rigged(name, params, train, fold, settings)

    one = tune("xgboost", train, folds, _settings(12), fold_scores=_rigged)
    two = tune("xgboost", train, folds, _settings(12), fold_scores=rigged, workers=2)
    assert [(t.params, t.state, t.value, t.fold_values) for t in two.trials] == [
        (t.params, t.state, t.value, t.fold_values) for t in one.trials
    ]
    assert two.params == one.params and "PRUNED" in {t.state for t in two.trials}
    assert set(seen) == {1}  # each model on one thread while the folds share the cores


def _trial(number: int, value: float | None, latency: float | None) -> TrialRecord:
    state = "COMPLETE" if value is not None else "PRUNED"
    return TrialRecord(number, {}, state, value, (), 1.0, latency)


def test_pareto_front_by_hand() -> None:
    trials = [
        _trial(0, 0.90, 5.0),  # front: the best metric
        _trial(1, 0.80, 1.0),  # front: the fastest
        _trial(2, 0.85, 3.0),  # front: between them
        _trial(3, 0.80, 4.0),  # dominated by 2 (better and faster)
        _trial(4, 0.90, 6.0),  # dominated by 0 (as good, slower)
        _trial(5, None, 0.5),  # pruned: never on the front
    ]
    assert pareto_front(trials) == (1, 2, 0)  # by latency


def test_every_trial_is_a_nested_run_of_its_study(config, train) -> None:
    import mlflow

    from finml import registry
    from finml.models.tracking import log_study

    registry.configure(config)
    folds = walk_forward_folds(train.frame["ts"], 3)
    settings = _settings(6)
    study = tune("xgboost", train, folds, settings, fold_scores=_rigged)
    with mlflow.start_run(run_name="tournament") as parent:
        study_id = log_study(study, settings)
    client = mlflow.MlflowClient()
    study_run = client.get_run(study_id)
    assert study_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert study_run.info.run_name == "tuning xgboost"
    assert study_run.data.metrics["trials"] == 6
    assert study_run.data.metrics["pruned"] == study.pruned
    assert study_run.data.params["sampler"] == "TPESampler(multivariate=True)"
    runs = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{study_id}'"
    )
    assert len(runs) == 6
    by_trial = {int(r.data.tags["finml.trial"]): r for r in runs}
    for trial in study.trials:
        run = by_trial[trial.number]
        assert run.data.tags["finml.trial_state"] == trial.state
        assert run.data.tags["finml.pareto"] == str(trial.number in study.pareto).lower()
        assert float(run.data.params["learning_rate"]) == pytest.approx(
            trial.params["learning_rate"], rel=1e-6
        )
        if trial.value is not None:
            assert run.data.metrics["pr_auc"] == pytest.approx(trial.value)
    front = json.loads(Path(client.download_artifacts(study_id, "pareto_front.json")).read_text())
    assert [row["trial"] for row in front] == list(study.pareto)


def test_an_empty_space_keeps_the_base_params(train) -> None:
    study = tune("zscore_rule", train, [], _settings(3), fold_scores=_rigged)
    assert study == StudyResult("zscore_rule", {}, None)


def test_the_retraining_jobs_tuning_parameters(config) -> None:
    from finml.errors import ConfigError
    from finml.jobs.training import tuned_settings

    assert tuned_settings(config, 0, 120).tuning.enabled is False  # as configured
    tuned = tuned_settings(config, 7, 30).tuning
    assert (tuned.enabled, tuned.trials, tuned.timeout_seconds) == (True, 7, 30)
    with pytest.raises(ConfigError, match="expected trials >= 0"):
        tuned_settings(config, -1, 120)
    with pytest.raises(ConfigError, match="timeout_seconds > 0, got 3 and 0"):
        tuned_settings(config, 3, 0)
    assert tuned_settings(config, "4", "60").tuning.trials == 4  # a job's parameters
    with pytest.raises(ConfigError, match=r"integer number of trials .* got 'x' and '60'"):
        tuned_settings(config, "x", "60")
