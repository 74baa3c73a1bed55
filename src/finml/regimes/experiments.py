"""The regime model's four MLflow experiments, logged from one regime fit (issue 22 item 3).

Beside ``finml-regime-model`` (the registered model's runs), each invocation adds:

* ``finml-regime-baseline``: one run -- the threshold chain's params, held-out score,
  spectral gap, stationary law, sojourns; the matrix with its intervals (JSON and CSV);
* ``finml-regime-absorbing``: one run -- Crisis absorbing, the expected days to absorption
  from each regime with their spread, intervals and "absorbed within h days" curve;
* ``finml-regime-comparison``: a parent run with the side-by-side table, a child run per
  method (threshold, regime HMM, Markov-switching; :mod:`finml.regimes.comparison`), a
  method that could not fit tagged ``finml.status`` with its ``finml.status_reason``;
* ``finml-regime-sensitivity``: a parent run with the grid summary, a child run per grid point
  (:mod:`finml.regimes.sensitivity`).

Every run carries the lineage tags plus ``finml.regime_run_id`` / ``finml.regime_model_version``
(the ``regime_model`` run and version they study) and ``finml.source``.

The studies describe a model already registered and gated, so each is logged on its own: a
:class:`DataError` (data a study cannot use), an ``MlflowException`` or an ``OSError`` (the
tracking store or artifact location refusing a write) ends that study's run as FAILED, is
logged as a warning and returned in :attr:`StudyRuns.failed`; the other studies still run.
Any other exception is a bug and propagates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from finml.errors import DataError
from finml.log import get_logger
from finml.regimes.absorbing import AbsorbingSummary
from finml.regimes.comparison import FitStatus, Inputs, MethodResult, compare, heldout_origins
from finml.regimes.comparison import forecast_scores as score_forecasts
from finml.regimes.markov import STATES
from finml.regimes.sensitivity import grid, run_grid

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.regimes.report import RegimeReport
    from finml.regimes.settings import RegimeSettings

log = get_logger("regimes.experiments")

# What a study may fail with without failing the regime job: data it cannot use, the
# tracking store or the artifact location refusing a write.
STUDY_ERRORS = (DataError, MlflowException, OSError)


@dataclass(frozen=True)
class StudyRuns:
    """The top-level run id per logged study (``baseline``, ``absorbing``, ``comparison``,
    ``sensitivity``), the reason per failed one and the seconds the four took."""

    run_ids: dict[str, str]
    failed: dict[str, str]
    seconds: float


def log_regime_experiments(
    config: ProjectConfig,
    bars: pd.DataFrame,
    report: RegimeReport,
    settings: RegimeSettings,
    *,
    regime_run_id: str | None,
    regime_version: int | None,
) -> StudyRuns:
    """Log the four studies of ``report`` (fitted on ``bars`` with ``settings``); a study
    failing with one of :data:`STUDY_ERRORS` is reported in the result, not raised."""
    from finml import registry

    started = time.perf_counter()
    tags = registry.lineage_tags(
        config, regime_run_id=regime_run_id, regime_model_version=regime_version,
        source=report.source,
    ) | registry.source_tags()  # fmt: skip
    suffix = "" if regime_version is None else f" v{regime_version}"
    studies = {"baseline": _baseline, "absorbing": _absorbing, "comparison": _comparison,
               "sensitivity": _sensitivity}  # fmt: skip
    run_ids, failed = {}, {}
    for kind, study in studies.items():
        try:
            experiment_id = registry.configure(config, registry.REGIME_STUDIES[kind])
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"{kind}{suffix}",
                                  tags=tags | {"finml.study": kind}) as run:  # fmt: skip
                study_started = time.perf_counter()
                study(report, settings, bars, tags | {"finml.study": kind}, experiment_id)
                mlflow.log_metric("study_seconds", time.perf_counter() - study_started)
        except STUDY_ERRORS as exc:
            failed[kind] = f"{type(exc).__name__}: {exc}"
            log.warning("regime_study_failed", study=kind, reason=failed[kind])
            continue
        run_ids[kind] = run.info.run_id
    return StudyRuns(run_ids, failed, time.perf_counter() - started)


def _log(params: dict[str, Any], metrics: dict[str, float]) -> None:
    """``params`` and the finite ``metrics`` of the active run, in one store call (a run
    costs ~0.1 s on the local sqlite store; a call each would add a third)."""
    from mlflow.entities import Metric, Param

    run = mlflow.active_run()
    if run is None:  # every caller is inside ``mlflow.start_run``
        raise RuntimeError("regime experiments: expected an active MLflow run, got none")
    now = int(time.time() * 1000)
    mlflow.MlflowClient().log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if np.isfinite(v)],
        params=[Param(k, str(v)) for k, v in params.items()],
    )


def _baseline(report: RegimeReport, settings: RegimeSettings, *_: Any) -> None:
    chain = report.chain
    params = {
        "method": settings.method, "quantiles": list(settings.quantiles),
        "thresholds_config": settings.thresholds,
        "thresholds": [round(float(t), 6) for t in report.thresholds],
        "window": settings.daily_window, "alpha": settings.smoothing,
        "bootstrap": settings.bootstrap, "ci_level": settings.ci_level,
        "heldout_fraction": settings.heldout_fraction, "source": report.source,
    }  # fmt: skip
    metrics = {k: v for k, v in report.metrics().items()
               if not k.startswith(("hmm_", "time_to_"))}  # fmt: skip
    targets, origins = report.heldout.targets, report.heldout.origins
    metrics["heldout_brier"] = score_forecasts(chain.matrix[origins], targets)[1]
    metrics["heldout_loglik_mean"] = report.heldout_loglik / max(report.heldout.transitions, 1)
    _log(params, metrics)
    analytics = {k: v for k, v in report.analytics_json().items() if k != "regime_hmm"}
    mlflow.log_dict(analytics, "transition_matrix.json")
    rows = [
        {"from": a, "to": b, "count": int(chain.counts[i, j]), "p": chain.matrix[i, j],
         "ci_low": chain.ci_low[i, j], "ci_high": chain.ci_high[i, j]}
        for i, a in enumerate(chain.states) for j, b in enumerate(chain.states)
    ]  # fmt: skip
    mlflow.log_text(pd.DataFrame(rows).to_csv(index=False), "transition_matrix.csv")


def _absorbing(report: RegimeReport, settings: RegimeSettings, *_: Any) -> None:
    summary = AbsorbingSummary.of(
        report.chain, "Crisis", draws=settings.bootstrap, seed=settings.seed
    )
    params = {"absorbing_state": "Crisis", "alpha": settings.smoothing,
              "bootstrap": settings.bootstrap, "ci_level": settings.ci_level}  # fmt: skip
    _log(params, summary.metrics())
    mlflow.log_dict(summary.to_json(), "absorbing.json")
    curve = pd.DataFrame(summary.curve, columns=[f"from_{s.lower()}" for s in summary.states])
    curve.insert(0, "days", np.arange(1, len(curve) + 1))
    mlflow.log_text(curve.to_csv(index=False), "absorbed_within.csv")


def _comparison(
    report: RegimeReport, settings: RegimeSettings, bars: pd.DataFrame, tags: dict[str, str],
    experiment_id: str,
) -> None:  # fmt: skip
    fit_mask = report.heldout.fit_mask
    inputs = Inputs(report.days, bars, fit_mask, heldout_origins(report.days, fit_mask),
                    report.chain.matrix, report.truth, settings)  # fmt: skip
    results = compare(inputs)
    for result in results.values():
        with mlflow.start_run(experiment_id=experiment_id, run_name=result.method, nested=True,
                              tags=tags | _status_tags(result)):  # fmt: skip
            _log({"method": result.method, "status": result.status.value},
                 result.metrics | {"seconds": result.seconds})  # fmt: skip
    table = comparison_table(results)
    mlflow.log_text(table.to_csv(index=False), "comparison.csv")
    _log({"methods": list(results), "heldout_first_date": report.heldout.first_date,
          "truth_known": report.truth is not None}, {})  # fmt: skip
    ok = table[table["status"] != FitStatus.FAILED.value]
    if not ok.empty:
        mlflow.set_tag("finml.best_heldout_loglik", ok.loc[ok["heldout_loglik"].idxmax(), "method"])


def _status_tags(result: MethodResult) -> dict[str, str]:
    tags = {"finml.status": result.status.value}
    if result.reason:
        tags["finml.status_reason"] = result.reason[:5000]
    return tags


def comparison_table(results: dict[str, MethodResult]) -> pd.DataFrame:
    """One row per method: status, reason, seconds and every metric (NaN where none)."""
    rows = [{"method": r.method, "status": r.status.value, "reason": r.reason, "seconds": r.seconds,
             **r.metrics} for r in results.values()]  # fmt: skip
    frame = pd.DataFrame(rows)
    if "heldout_loglik" not in frame.columns:
        frame["heldout_loglik"] = np.nan
    return frame


def _sensitivity(
    report: RegimeReport, settings: RegimeSettings, bars: pd.DataFrame, tags: dict[str, str],
    experiment_id: str,
) -> None:  # fmt: skip
    daily_bars = float(report.days["bars"].median()) <= 1  # as daily_risk decides
    points = grid(settings, daily_bars=daily_bars)
    results = run_grid(bars, report.days, settings, points)
    rows = []
    for result in results:
        name = result.point.name
        point_tags = tags | {"finml.grid_point": name}
        with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True,
                              tags=point_tags):  # fmt: skip
            _log(result.point.params(), result.metrics())
            matrix = {"states": list(STATES), "transition_matrix": result.matrix.tolist(),
                      "thresholds": result.thresholds.tolist()}  # fmt: skip
            mlflow.log_dict(matrix, "transition_matrix.json")
        rows.append({"point": result.point.name, **result.point.params(), **result.metrics()})
    summary = pd.DataFrame(rows)
    mlflow.log_text(summary.to_csv(index=False), "sensitivity.csv")
    worst = summary.iloc[1:] if len(summary) > 1 else summary
    _log({"grid_points": len(points), "window_varied": daily_bars},
         {"max_abs_distance_worst": float(worst["max_abs_distance"].max()),
          "label_stability_worst": float(worst["label_stability"].min())})  # fmt: skip
