"""The tournament: every candidate on the same walk-forward folds, then refit on the whole
training set and scored on the holdout. Pure computation — no MLflow, no tables (the training
job logs and writes the result), so it is testable and benchmarkable on its own.

Selection uses the mean walk-forward metric (the holdout stays untouched for the gate); the
decision threshold maximises F1 on the pooled out-of-fold scores.

The fits (every candidate on every fold, then every refit) are independent tasks
(:mod:`finml.models.fanout`) run by an executor: in this process one after the other by
default, several at once on threads, or as Spark tasks; the outcomes, and so the
leaderboard, are the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finml.log import get_logger
from finml.models.data import Split, walk_forward_folds
from finml.models.ensemble import (
    Evidence,
    SoftVotingEnsemble,
    combine,
    ewma_weights,
    member_weights,
    window_evidence,
)
from finml.models.fanout import (
    Executor,
    FitOutcome,
    Progress,
    ThreadExecutor,
    fit_and_time,
    local_executor,
    plan,
)
from finml.models.metrics import MetricSettings, best_f1_threshold, evaluate
from finml.models.pyfunc import AnomalyPyfunc
from finml.models.roster import build, candidates
from finml.models.settings import ModelSettings
from finml.models.tuning import StudyResult

log = get_logger("models.tournament")
BASELINE = "zscore_rule"
__all__ = ["BASELINE", "CandidateResult", "Progress", "TournamentResult", "fold_scores",
           "run_tournament"]  # fmt: skip


@dataclass
class CandidateResult:
    name: str
    params: dict[str, Any]
    fold_scores: list[np.ndarray]
    threshold: float = 0.5
    cv: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)
    holdout_scores: np.ndarray | None = None
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    model: AnomalyPyfunc | None = None
    is_baseline: bool = False
    history: dict[str, list[float]] = field(default_factory=dict)  # ensemble: member PR-AUCs
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)  # ensemble: per fold
    tuning: StudyResult | None = None  # its Optuna study, when it was tuned
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))  # its training


@dataclass
class TournamentResult:
    results: list[CandidateResult]  # ranked, best first (baseline included, never first)
    primary_metric: str
    train_rows: int
    test_rows: int

    @property
    def winner(self) -> CandidateResult:
        return next(r for r in self.results if not r.is_baseline)

    @property
    def baseline(self) -> CandidateResult | None:
        return next((r for r in self.results if r.is_baseline), None)

    def leaderboard(self) -> pd.DataFrame:
        """One row per candidate: rank, walk-forward (``cv_``) and ``holdout_`` metrics,
        threshold, timings and params (JSON)."""
        rows = []
        for rank, r in enumerate(self.results, start=1):
            row: dict[str, Any] = {"rank": rank, "candidate": r.name, "is_baseline": r.is_baseline}
            row.update({f"cv_{k}": v for k, v in r.cv.items()})
            row.update({f"holdout_{k}": v for k, v in r.holdout.items()})
            row.update(
                threshold=r.threshold,
                fit_seconds=r.fit_seconds,
                predict_seconds=r.predict_seconds,
                params=json.dumps(r.params, sort_keys=True, default=str),
            )
            rows.append(row)
        return pd.DataFrame(rows)


def run_tournament(
    train: Split,
    test: Split,
    settings: ModelSettings,
    progress: Progress | None = None,
    executor: Executor | None = None,
    live: Mapping[str, Sequence[Evidence]] | None = None,
) -> TournamentResult:
    """Run every candidate of ``settings`` (plus the z-score baseline) and rank them; the
    fits run on ``executor`` (None: in this process, ``n_jobs`` one-thread fits at once, or
    one after the other when ``n_jobs`` is 1; a tuned candidate's study then fits a trial's
    folds at once the same way). ``live``: each
    ensemble member's evidence from the monitoring windows (oldest first), weighed after
    its walk-forward folds when the ensemble is refitted.

    Raises:
        ConfigError: an unknown candidate name.
        DataError: too few rows for the folds.
    """
    note = progress or (lambda _msg: None)
    known = candidates()
    names = [n for n in settings.candidates if n != BASELINE] + [BASELINE]
    for name in names:
        build(name, seed=settings.seed, n_jobs=1)  # fail fast on unknown names
    folds = walk_forward_folds(train.frame["ts"], settings.folds)
    _require_both_classes(train, folds)
    metric_settings = MetricSettings(settings.precision_at_k, settings.recall_at_fpr)
    base = [n for n in names if not getattr(known[n], "composite", False)]
    studies: dict[str, StudyResult] = {}
    executor = executor or local_executor(settings.n_jobs)
    workers = executor.workers if isinstance(executor, ThreadExecutor) else 1
    params = {n: _params(n, train, folds, settings, studies, workers) for n in base}
    tasks = plan(base, params, len(folds), seed=settings.seed, n_jobs=settings.n_jobs)
    outcomes = executor.map(tasks, train, folds, note)
    results = _walk_forward(params, outcomes)
    for name in (n for n in names if n not in results):
        results[name] = _compose_folds(name, results, train, folds, settings)
    for result in results.values():
        result.tuning = studies.get(result.name)
        _score_folds(result, train, folds, metric_settings, settings.primary_metric)
    refits = {o.task.candidate: o for o in outcomes if o.task.kind == "refit"}
    for name in base:
        _refit(results[name], refits[name], test, metric_settings)
    for name in (n for n in names if n not in base):
        _refit_composite(results[name], results, test, settings, metric_settings, live or {})
    ranked = sorted(
        results.values(),
        key=lambda r: (
            r.is_baseline,
            -np.nan_to_num(r.cv[settings.primary_metric], nan=-1),
            r.name,
        ),
    )
    log.info("tournament_done", winner=ranked[0].name, primary=settings.primary_metric)
    return TournamentResult(ranked, settings.primary_metric, len(train.frame), len(test.frame))


def _require_both_classes(train: Split, folds: list) -> None:
    """Supervised candidates cannot learn from (or be scored on) a one-class fold."""
    from finml.errors import DataError

    y = train.y
    for k, (fit_rows, valid_rows) in enumerate(folds, start=1):
        for part, rows in (("training", fit_rows), ("validation", valid_rows)):
            classes = np.unique(y[rows])
            if len(classes) < 2:
                raise DataError(
                    f"train_set fold {k}: expected both label classes in its {part} rows, got "
                    f"only {classes.tolist()} in {len(rows):,} rows; simulate more "
                    "days/trades or use fewer folds (models.folds)"
                )


def _params(
    name: str,
    train: Split,
    folds: list,
    settings: ModelSettings,
    studies: dict[str, StudyResult] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """``name``'s parameters: the configured ones, tuned by an Optuna study (kept in
    ``studies`` when given, fitting ``workers`` folds at once) when tuning is on for it."""
    params = dict(settings.params.get(name, {}))
    if settings.tuning.enabled and name in settings.tuning.candidates:
        from finml.models.tuning import tune

        study = tune(name, train, folds, settings, fold_scores=fold_scores, workers=workers)
        if studies is not None:
            studies[name] = study
        params.update(study.params)
    return params


def fold_scores(
    name: str, params: dict[str, Any], train: Split, fold: tuple, settings: ModelSettings
) -> tuple[np.ndarray, float]:
    """Fit ``name`` on the fold's training rows (preprocessing fitted there too) and score
    its validation rows; returns the scores and the seconds the scoring took."""
    model = build(name, params, seed=settings.seed, n_jobs=settings.n_jobs)
    return fit_and_time(model, train, fold)


def _walk_forward(
    params: dict[str, dict[str, Any]], outcomes: list[FitOutcome]
) -> dict[str, CandidateResult]:
    """Each base candidate's fold scores, in fold order, from the fold tasks' outcomes."""
    results: dict[str, CandidateResult] = {}
    for name, candidate_params in params.items():
        folds = sorted(
            (o for o in outcomes if o.task.candidate == name and o.task.kind == "fold"),
            key=lambda o: o.task.fold or 0,
        )
        scores = [o.scores for o in folds if o.scores is not None]
        started_ms = min((o.started_ms for o in folds), default=int(time.time() * 1000))
        results[name] = CandidateResult(
            name, candidate_params, scores, is_baseline=name == BASELINE, started_ms=started_ms
        )
    return results


def _compose_folds(name, results, train, folds, settings) -> CandidateResult:
    params = {**SoftVotingEnsemble.default_params, "alpha": settings.ewma_alpha}
    params.update(settings.params.get(name, {}))
    members = [m for m in params["members"] if m in results]
    history: dict[str, list[float]] = {m: [] for m in members}
    evidence: dict[str, list[Evidence]] = {m: [] for m in members}
    scores = []
    for k, (_, valid) in enumerate(folds):
        fold = {m: results[m].fold_scores[k] for m in members}
        scores.append(combine(fold, ewma_weights(evidence, params["alpha"])))
        y = train.y[valid]
        # update after use: fold k's weights never see fold k
        for m, item in window_evidence(y, fold).items():
            evidence[m].append(item)
        for m in members:
            history[m].append(evaluate(y, fold[m], 0.5, MetricSettings())["pr_auc"])
    params["members"] = members
    started_ms = min((results[m].started_ms for m in members), default=int(time.time() * 1000))
    return CandidateResult(
        name, params, scores, history=history, evidence=evidence, started_ms=started_ms
    )


def _score_folds(result, train, folds, metric_settings, primary) -> None:
    y_folds = [train.y[valid] for _, valid in folds]
    result.threshold = best_f1_threshold(
        np.concatenate(y_folds), np.concatenate(result.fold_scores)
    )
    per_fold = [
        evaluate(y, s, result.threshold, metric_settings)
        for y, s in zip(y_folds, result.fold_scores, strict=True)
    ]
    result.cv = {k: float(np.nanmean([m[k] for m in per_fold])) for k in per_fold[0]}


def _refit(result, outcome: FitOutcome, test, metric_settings) -> None:
    model, prep = outcome.fitted()
    result.fit_seconds = outcome.fit_seconds
    result.model = AnomalyPyfunc(model, prep, result.threshold)
    result.params = dict(model.params)
    _holdout(result, test, metric_settings)


def _refit_composite(result, results, test, settings, metric_settings, live) -> None:
    members = {m: results[m].model.scorer for m in result.params["members"]}
    evidence = {m: [*folds, *live.get(m, [])] for m, folds in result.evidence.items()}
    alpha = result.params["alpha"]
    ensemble = SoftVotingEnsemble.compose(members, evidence, alpha=alpha, seed=settings.seed)
    prep = results[result.params["members"][0]].model.preprocessor
    result.fit_seconds = sum(results[m].fit_seconds for m in members)
    result.model = AnomalyPyfunc(ensemble, prep, result.threshold)
    weighed = member_weights(evidence, alpha)
    result.params = {
        **result.params,
        "weights": ensemble.weights,
        "confidence": {m: round(w.confidence, 4) for m, w in weighed.items()},
        "live_windows": max((len(live.get(m, [])) for m in members), default=0),
    }
    _holdout(result, test, metric_settings)


def _holdout(result: CandidateResult, test: Split, metric_settings: MetricSettings) -> None:
    started = time.perf_counter()
    scored = result.model.score_frame(test.frame)  # type: ignore[union-attr]
    result.predict_seconds = time.perf_counter() - started
    result.holdout_scores = scored["score"].to_numpy()
    result.holdout = evaluate(test.y, result.holdout_scores, result.threshold, metric_settings)
