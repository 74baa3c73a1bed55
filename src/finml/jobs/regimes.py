"""Regime job: bars -> risk score per symbol and day -> threshold regimes (the baseline) ->
Markov chain (fitted without the most recent trade dates), analytics; the regime HMM (labels,
filtered and smoothed posteriors), HMM comparison -> ``regime_states`` and the
``regime_model`` in MLflow, registered as challenger and gated against the champion on the
held-out dates (``regime_model_audit``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from finml.errors import DataError
from finml.log import get_logger
from finml.regimes.discretise import assign, fit_thresholds
from finml.regimes.evaluate import best_permutation_accuracy, daily_truth, fit_hmm
from finml.regimes.heldout import log_likelihood, split_heldout
from finml.regimes.hmm_report import HmmSummary, fit_regime_hmm
from finml.regimes.markov import STATES, MarkovChain
from finml.regimes.report import RegimeReport
from finml.regimes.score import daily_risk
from finml.regimes.settings import RegimeSettings, regime_settings
from finml.runtime.delta import MergeSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.regimes")

BARS, TRUTH, STATES_TABLE = "gold_bars_1m", "sim_truth_regimes", "regime_states"
HMM_VARIANTS = ("returns", "log_vol")


def run_regimes(
    config: ProjectConfig,
    spark: SparkSession | None,
    tables: DeltaTables,
    input_csv: str | Path | None = None,
    *,
    symbol: str | None = None,
    log_model: bool = True,
) -> RegimeReport:
    """Fit the regime model on ``gold_bars_1m`` (or ``input_csv``, Alpha Vantage layout)
    without its last held-out trade dates and score it on them, MERGE per symbol and day into
    ``regime_states`` and, unless ``log_model`` is false, register ``regime_model`` (aliases
    challenger and latest-model) and gate it against the champion (see
    :func:`finml.regimes.promotion.gate_regime_model`).

    Raises:
        TableNotFound: no ``input_csv`` and ``gold_bars_1m`` does not exist.
        DataError: the CSV is malformed or there are too few days to hold some out.
        ModelNotFound: the champion's transition matrix cannot be read.
    """
    settings = regime_settings(config)
    bars, source = _bars(tables, input_csv, symbol)
    days = daily_risk(bars, settings.daily_window)
    thresholds = _thresholds(days, settings)
    days["regime_id"] = assign(days["risk_score"].to_numpy(), thresholds)
    heldout = split_heldout(days, settings.heldout_fraction, settings.heldout_min_days)
    chain = _fit_chain(days[heldout.fit_mask], settings)
    loglik = log_likelihood(chain.matrix, heldout.origins, heldout.targets)
    report = RegimeReport(
        source, days, thresholds, chain, chain.analytics("Crisis"), heldout, loglik
    )
    report.regime_hmm = _fit_regime_hmm(bars, days, settings)
    _evaluate(report, tables if input_csv is None else None, settings.seed)
    report.table_version = _write_states(tables, report).version
    if log_model:
        _register_and_gate(config, tables, report, settings)
        if settings.experiments:
            _log_studies(config, bars, report, settings)
    log.info(
        "regimes_fitted", days=len(days), accuracy=report.accuracy, source=source,
        heldout_loglik=loglik, decision=report.decision and report.decision.decision,
    )  # fmt: skip
    return report


def _fit_chain(days: pd.DataFrame, settings: RegimeSettings) -> MarkovChain:
    starts = (days["symbol"] != days["symbol"].shift(1)).to_numpy()
    return MarkovChain.fit(
        days["regime_id"].to_numpy(),
        starts,
        smoothing=settings.smoothing,
        bootstrap=settings.bootstrap,
        ci_level=settings.ci_level,
        seed=settings.seed,
    )


def _fit_regime_hmm(
    bars: pd.DataFrame, days: pd.DataFrame, settings: RegimeSettings
) -> HmmSummary | None:
    """The probabilistic regime model beside the threshold baseline; None (logged) when
    the bars cannot carry it (too few days, a NaN price, high < low...)."""
    try:
        return fit_regime_hmm(
            bars, days, sticky=settings.hmm_sticky, restarts=settings.hmm_restarts,
            forecast_smoothing=settings.hmm_forecast_smoothing, seed=settings.seed,
        )  # fmt: skip
    except ValueError as exc:  # DataError, or hmmlearn refusing degenerate data
        log.warning("regime_hmm_skipped", reason=str(exc))
        return None


def _register_and_gate(
    config: ProjectConfig, tables: DeltaTables, report: RegimeReport, settings: RegimeSettings
) -> None:
    """Register the fit as ``challenger`` (+ ``latest-model``), then gate it."""
    from finml.regimes.promotion import gate_regime_model, registration_tags
    from finml.regimes.pyfunc import log_regime_model
    from finml.registry import CHALLENGER, LATEST

    params = {"source": report.source, **settings.model_dump(mode="json")}
    tags = registration_tags(report.chain.matrix, report.heldout, report.heldout_loglik)
    info = log_regime_model(
        config, report.chain, report.metrics(), report.analytics_json(), params,
        (CHALLENGER, LATEST), version_tags=tags,
    )  # fmt: skip
    report.model_version, report.model_run_id = info.version, info.run_id
    report.decision = gate_regime_model(
        config, tables, info.name, info.version, report.heldout, report.heldout_loglik,
        settings.promotion_margin,
    )  # fmt: skip


def _log_studies(
    config: ProjectConfig, bars: pd.DataFrame, report: RegimeReport, settings: RegimeSettings
) -> None:
    """The four regime experiments (:mod:`finml.regimes.experiments`): a study that fails on
    its data or the tracking store is a warning there, not a failed job."""
    from finml.regimes.experiments import log_regime_experiments

    runs = log_regime_experiments(
        config, bars, report, settings,
        regime_run_id=report.model_run_id, regime_version=report.model_version,
    )  # fmt: skip
    report.study_runs = runs.run_ids
    log.info("regime_experiments_logged", seconds=round(runs.seconds, 3), runs=runs.run_ids,
             failed=runs.failed)  # fmt: skip


def _bars(
    tables: DeltaTables, input_csv: str | Path | None, symbol: str | None
) -> tuple[pd.DataFrame, str]:
    if input_csv is not None:
        from finml.regimes.csv_bars import read_ohlcv_csv

        return read_ohlcv_csv(input_csv, symbol), f"csv:{Path(input_csv).name}"
    columns = ["symbol", "window_start", "trade_date", "session", "open", "high", "low", "close"]
    arrow = tables.require(BARS).to_arrow().select(columns)
    return arrow.to_pandas(), BARS


def _thresholds(days: pd.DataFrame, settings: RegimeSettings) -> np.ndarray:
    return fit_thresholds(
        days["risk_score"].to_numpy(),
        settings.method,
        quantiles=settings.quantiles,
        thresholds=settings.thresholds,
    )


def _evaluate(report: RegimeReport, tables: DeltaTables | None, seed: int) -> None:
    """Accuracy vs the simulator's regimes (when present) and the HMM alternatives."""
    days = report.days
    truth = None
    if tables is not None and tables.table(TRUTH).exists():
        columns = ["symbol", "minute_ts_ms", "regime_id"]
        truth_days = daily_truth(tables.table(TRUTH).to_arrow().select(columns).to_pandas())
        merged = days.merge(truth_days, on=["symbol", "trade_date"], how="left")
        truth = merged["true_regime_id"].to_numpy()
        known = ~pd.isna(truth)
        if known.any():
            truth = truth.astype(float)
            report.truth = truth
            report.accuracy = best_permutation_accuracy(
                days["regime_id"].to_numpy()[known], truth[known].astype(int)
            )
    if truth is not None and report.regime_hmm is not None and (known := ~np.isnan(truth)).any():
        states = _hmm_columns(report)["hmm_regime_id"].to_numpy()
        report.hmm_accuracy["regime_hmm"] = best_permutation_accuracy(
            states[known], truth[known].astype(int)
        )
    for variant in HMM_VARIANTS:
        try:
            states = fit_hmm(days, variant, seed).states
        except (DataError, ValueError) as exc:
            log.warning("hmm_skipped", variant=variant, reason=str(exc))
            continue
        days[f"hmm_{variant}"] = states
        report.hmm_agreement[variant] = best_permutation_accuracy(states, days["regime_id"])
        if truth is not None and (known := ~np.isnan(truth)).any():
            report.hmm_accuracy[variant] = best_permutation_accuracy(
                states[known], truth[known].astype(int)
            )


def _hmm_columns(report: RegimeReport) -> pd.DataFrame:
    """The HMM's label and posteriors per row of ``report.days`` (-1 / None / NaN when the
    HMM did not fit, so the table keeps one schema)."""
    keys = report.days[["symbol", "trade_date"]]
    if report.regime_hmm is not None:
        return keys.merge(report.regime_hmm.posteriors, on=["symbol", "trade_date"], how="left")
    frame = keys.assign(hmm_regime_id=-1, hmm_regime=pd.Series(pd.NA, keys.index, "string"))
    for name in (s.lower() for s in STATES):
        frame[f"p_filtered_{name}"] = np.nan
        frame[f"p_smoothed_{name}"] = np.nan
    return frame


def regime_rows(report: RegimeReport) -> pd.DataFrame:
    """One row per symbol and day: the risk score, the threshold regime (the baseline), its
    chain's next-regime forecast and the regime HMM's label with its filtered and smoothed
    posteriors -- what ``regime_states`` holds (and ``finml regimes --output`` writes)."""
    days, chain = report.days, report.chain
    nxt = chain.matrix[days["regime_id"].to_numpy()]
    frame = pd.DataFrame(
        {
            "symbol": days["symbol"],
            "trade_date": days["trade_date"],
            "risk_score": days["risk_score"].astype(float),
            "risk_percentile": days["risk_percentile"].astype(float),
            "day_return": days["day_return"].astype(float),
            "regime": np.array(STATES)[days["regime_id"].to_numpy()],
            "regime_id": days["regime_id"].astype("int32"),
            "hmm_state": days.get("hmm_returns", pd.Series(-1, index=days.index)).astype("int32"),
            "next_regime": np.array(STATES)[nxt.argmax(axis=1)],
            "next_confidence": nxt.max(axis=1),
            "p_next_normal": nxt[:, 0],
            "p_next_stress": nxt[:, 1],
            "p_next_crisis": nxt[:, 2],
            "source": report.source,
        }
    )
    hmm = _hmm_columns(report).drop(columns=["symbol", "trade_date"])
    hmm["hmm_regime_id"] = hmm["hmm_regime_id"].fillna(-1).astype("int32")
    return pd.concat([frame, hmm.set_index(frame.index)], axis=1)


def _write_states(tables: DeltaTables, report: RegimeReport) -> Any:
    frame = regime_rows(report).assign(_computed_at=pd.Timestamp(datetime.now(UTC)))
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    table = tables.table(STATES_TABLE)
    if not table.exists():
        return table.overwrite(arrow)
    # schema evolution: a table written before the regime HMM gains its columns
    return table.merge(arrow, MergeSpec(keys=("symbol", "trade_date")), schema_evolution=True)
