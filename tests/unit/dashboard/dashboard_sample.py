"""A small but real warehouse for dashboard tests: Delta tables written through
``finml.runtime.delta`` (delta-rs, Arrow) with the schemas the owning packages declare."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from finml.bundle.runs import JOB_RUNS_SCHEMA
from finml.models.audit import GATE_SCHEMA, ROLLBACK_SCHEMA
from finml.monitoring.schemas import TABLE_SCHEMAS
from finml.pipelines.quality import DQ_SCHEMA
from finml.runtime.delta import DeltaTables
from finml.serving.abtest import AB_TESTS_SCHEMA
from finml.serving.scoring import PREDICTIONS_SCHEMA

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
SYMBOLS = ("AAPL", "MSFT", "SPY")
FEATURES = ("ret_1m", "vol_5m", "spread_z", "volume_z")
STATES = ("Normal", "Stress", "Crisis")
# production drift rows name the champion they compare against (finml.jobs.production)
REFERENCE = "finml_local.markets.anomaly_model v1 / trade_features v3"
# the demo's simulated-market scenario writes rows without a reference, other columns, dates
SIMULATED = ("log_return", "log_volume")
# silver rules failing in the quality runs: more than the 10-colour default palette
RULES = ("price_positive", "volume_positive", *(f"rule_{k:02d}" for k in range(10)))


def write_sample_warehouse(tables: DeltaTables, seed: int = 7) -> dict[str, int]:
    """Write every table the dashboard reads; returns rows per table."""
    rng = np.random.default_rng(seed)
    written = {}
    for name, data in {
        "data_quality_log": _quality(rng),
        "silver_quarantine": _quarantine(),
        "regime_states": _regimes(rng),
        "drift_monitoring": _drift(rng),
        "alerts": _alerts(),
        "model_monitoring": _model_monitoring(rng),
        "predictions": _predictions(),
        "retraining_audit": _retraining(),
        "model_leaderboard": _leaderboard(),
        "anomaly_kind_quality": _kinds(),
        "ensemble_member_monitoring": _members(),
        "decisions": _decisions(),
        "champion_challenger_audit": _gate(),
        "rollback_audit": _rollback(),
        "ab_tests": _ab_tests(),
        "job_runs": _job_runs(),
        "eda_profile": _eda(),
        "inference_log": _inference_log(),
        "trade_features": _trade_features(),
        "pr_curves": _pr_curves(),
        "feature_importance": _feature_importance(),
    }.items():
        tables.table(name).append(data)
        written[name] = data.num_rows
    return written


def _arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema)


def _quality(rng) -> pa.Table:
    rows = []
    for run in range(5):
        at = NOW - timedelta(hours=5 - run)
        for layer, table in (
            ("bronze", "bronze_trades"),
            ("silver", "silver_trades"),
            ("gold", "gold_bars_1m"),
        ):
            bad = int(rng.integers(0, 40)) if layer == "silver" else 0
            rows.append(
                {
                    "run_id": f"run{run}",
                    "layer": layer,
                    "table_name": table,
                    "source_version": run,
                    "rows_in": 5000,
                    "rows_out": 5000 - bad,
                    "rows_quarantined": bad,
                    "rows_dropped": 0,
                    "duplicates_removed": run,
                    "rule_failures": [
                        ("price_positive", bad // 2),
                        ("volume_positive", bad - bad // 2),
                        *((rule, 1) for rule in RULES[2:] if layer == "silver"),
                    ],
                    "completeness": 1.0,
                    "uniqueness": 1.0,
                    "validity": 1 - bad / 5000,
                    "quality_score": 1 - bad / 5000,
                    "computed_at": at,
                }
            )
    return _arrow(rows, DQ_SCHEMA)


def _quarantine() -> pa.Table:
    return pa.table(
        {
            "trade_id": ["q1", "q2", "q3"],
            "symbol": ["AAPL", "SPY", "AAPL"],
            "price": [-1.0, 0.0, 101.0],
            "_failed_rules": [
                ["price_positive"],
                ["price_positive", "volume_positive"],
                ["volume_positive"],
            ],
        }
    )


def _regimes(rng) -> pa.Table:
    frames = []
    days = pd.date_range("2026-01-05", periods=30, freq="B").date
    # one market regime: every symbol has the same series (their lines coincide)
    ids = np.clip(np.cumsum(rng.choice([-1, 0, 0, 0, 1], len(days))), 0, 2).astype("int32")
    for symbol in SYMBOLS:
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "trade_date": days,
                    "risk_score": rng.random(len(days)),
                    "risk_percentile": rng.random(len(days)),
                    "day_return": rng.normal(0, 0.01, len(days)),
                    "regime": np.array(STATES)[ids],
                    "regime_id": ids,
                    "next_regime": np.array(STATES)[ids],
                    "next_confidence": 0.8,
                    "source": "gold_bars_1m",
                    "_computed_at": pd.Timestamp(NOW),
                }
            )
        )
    return pa.Table.from_pandas(pd.concat(frames), preserve_index=False)


def _drift(rng) -> pa.Table:
    """8 production windows of the champion's features (vol_5m drifting to HIGH), and an
    older simulated-market check without a reference, on other columns."""
    rows = []
    for w in range(8):
        start = NOW - timedelta(days=8 - w)
        for i, feature in enumerate(FEATURES):
            psi = float(rng.random() * 0.05 + (0.03 * w if i == 1 else 0.0))
            rows.append(_drift_row(start, feature, psi, REFERENCE, f"d{w}"))
    for w in range(3):
        start = datetime(2025, 6, 2 + w, tzinfo=UTC)
        rows += [_drift_row(start, c, 0.5, None, "sim") for c in SIMULATED]
    return _arrow(rows, TABLE_SCHEMAS["drift_monitoring"])


def _drift_row(start: datetime, feature: str, psi: float, reference, run: str) -> dict:
    return {
        "window": {"start": start, "end": start + timedelta(days=1)},
        "granularity": "1 day",
        "column_name": feature,
        "data_type": "double",
        "drift_type": "BASELINE",
        "count_reference": 1000,
        "count_current": 200,
        "population_stability_index": psi,
        "js_distance": psi / 2,
        "wasserstein_distance": psi,
        "severity": "HIGH" if psi > 0.2 else "MEDIUM" if psi > 0.1 else "NONE",
        "reference": reference,
        "_run_id": run,
        "_computed_at": start,
    }


def _alerts() -> pa.Table:
    rows = [
        {
            "alert_id": f"a{i}",
            "created_at": NOW - timedelta(hours=30 - 6 * i),
            "alert_type": "drift",
            "severity": sev,
            "title": f"Drift on vol_5m ({sev})",
            "message": "PSI above threshold on 1 feature",
            "source": "drift_monitoring",
            "dedup_key": f"k{i}",
            "details": json.dumps({"psi": 0.2}),
            "status": status,
            "destination": "webhook",
            "attempts": 1,
        }
        for i, (sev, status) in enumerate(
            [
                ("MEDIUM", "delivered"),
                ("HIGH", "delivered"),
                ("HIGH", "failed"),
                ("MEDIUM", "deduplicated"),
            ]
        )
    ]
    return _arrow(rows, TABLE_SCHEMAS["alerts"])


def _model_monitoring(rng) -> pa.Table:
    rows = [
        {
            "window": {"start": NOW - timedelta(days=6 - w), "end": NOW - timedelta(days=5 - w)},
            "granularity": "1 day",
            "model_name": "finml_local.markets.anomaly_model",
            "model_version": "2",
            "source": "inference_log",
            "count": 500,
            "labelled_count": 400,
            "pr_auc": float(0.7 - 0.03 * w + rng.random() * 0.01),
            "precision": 0.8 - 0.05 * w,
            "recall": 0.6 + 0.02 * w,
            "f1": 2 * (0.8 - 0.05 * w) * (0.6 + 0.02 * w) / (1.4 - 0.03 * w),
            "latency_p95_ms": 4.0,
        }
        for w in range(6)
    ]
    return _arrow(rows, TABLE_SCHEMAS["model_monitoring"])


def _members() -> pa.Table:
    """Two members over three windows: lightgbm's live weight rises 0.5 -> 0.6 -> 0.7."""
    rows = [
        {
            "window": {"start": NOW - timedelta(days=3 - w), "end": NOW - timedelta(days=2 - w)},
            "granularity": "1 day",
            "model_name": "finml_local.markets.anomaly_model",
            "model_version": "2",
            "member": member,
            "labelled_count": 400,
            "positive_count": 12,
            "pr_auc": 0.8 + sign * 0.05,
            "edge": sign * 0.05,
            "edge_se": 0.02,
            "serving_weight": 0.5,
            "confidence": 0.9,
            "live_weight": 0.5 + sign * 0.1 * w,
            "live_windows": w + 1,
        }
        for w in range(3)
        for member, sign in (("lightgbm", 1), ("random_forest", -1))
    ]
    return _arrow(rows, TABLE_SCHEMAS["ensemble_member_monitoring"])


def _decisions() -> pa.Table:
    """An older run, and the latest: a short at 100 bought back at 98 (PnL +1,000), then a
    long at 50 sold at 49.5 (PnL -250), between NO_ACTION rows."""
    from finml.serving.decisions.records import DECISIONS

    def row(run: str, minute: int, action: str, pnl=None, equity=1_000_000.0, **more) -> dict:
        return {
            "decision_id": f"{run}-{minute}",
            "run_id": run,
            "source": "backtest",
            "account": "backtest",
            "symbol": "AAA",
            "trade_id": f"t{minute}",
            "ts": NOW - timedelta(hours=2) + timedelta(minutes=minute),
            "decided_at": NOW - timedelta(minutes=1 if run == "latest" else 60),
            "action": action,
            "reason": f"{action.lower()} reason",
            "pnl": pnl,
            "equity": equity,
            "model_version": "2",
            **more,
        }

    heat = {"heat": 0.0, "correlation": 0.0, "regime": 0.0, "drawdown": 0.0, "losses": 0.0}
    rows = [
        row("older", 0, "TAKE_ACTION"),
        row("latest", 0, "NO_ACTION", probability=0.05),
        row(
            "latest",
            10,
            "TAKE_ACTION",
            side=-1,
            price=100.0,
            probability=0.92,
            risk_score=0.2,
            factors=json.dumps(heat),
        ),
        row("latest", 20, "EXIT_POSITION", pnl=1_000.0, equity=1_001_000.0, probability=0.32),
        row(
            "latest",
            30,
            "TAKE_ACTION",
            side=1,
            price=50.0,
            equity=1_001_000.0,
            probability=0.81,
            risk_score=0.4,
            factors=json.dumps({**heat, "heat": 0.5}),
        ),
        row("latest", 40, "EXIT_POSITION", pnl=-250.0, equity=1_000_750.0, probability=0.12),
        row("latest", 60, "NO_ACTION", equity=1_000_750.0, probability=0.97),
    ]
    for i, ms in enumerate((1.0, 3.0)):  # two served decisions, earlier than the latest run
        served = row("serve", 70 + i, "NO_ACTION", source="serving", probability=0.5)
        served["decided_at"] = NOW - timedelta(minutes=30)
        spans = {"features": ms, "model": 2 * ms, "regime": 0.1, "decision": 0.1, "total": 4 * ms}
        rows.append({**served, "latency_ms": json.dumps(spans)})
    return _arrow(rows, DECISIONS)


def _predictions() -> pa.Table:
    """20 trades per day of the model-monitoring windows, scored by v2."""
    rows = [
        {
            "symbol": SYMBOLS[i % 3],
            "ts": NOW - timedelta(days=6 - w, minutes=-i),
            "trade_id": f"t{w}_{i}",
            "score": i / 20,
            "prediction": int(i > 15),
            "model_name": "finml_local.markets.anomaly_model",
            "model_version": "2",
            "scored_at": NOW,
        }
        for w in range(6)
        for i in range(20)
    ]
    return _arrow(rows, PREDICTIONS_SCHEMA)


def _retraining() -> pa.Table:
    rows = [
        {
            "decision_id": f"r{i}",
            "sequence": i,
            "decided_at": NOW - timedelta(days=4 - i),
            "decision": "trigger" if i == 3 else "skip",
            "reason": "drift: 2 of the last 3 windows violated (need 2 of 3)"
            if i == 3
            else f"drift: {[0, 0, 1][i]} of the last 3 windows violated (need 2 of 3)",
            "violating_windows": [0, 0, 1, 2][i],
            "window_count": 3,
            "new_samples": 1000 * i,
            "action": "retrain",
            "action_status": "succeeded" if i == 3 else "not_run",
        }
        for i in range(4)
    ]
    return _arrow(rows, TABLE_SCHEMAS["retraining_audit"])


def _leaderboard() -> pa.Table:
    board = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "candidate": ["lightgbm", "xgboost", "zscore_baseline"],
            "is_baseline": [False, False, True],
            "cv_pr_auc": [0.71, 0.69, 0.31],
            "holdout_pr_auc": [0.74, 0.7, 0.3],
            "threshold": [0.5, 0.45, 3.0],
            "fit_seconds": [1.2, 1.5, 0.01],
            "params": ["{}", "{}", "{}"],
            "tournament_id": "t1",
            "trained_at": pd.Timestamp(NOW - timedelta(days=2)),
            "model_name": "finml_local.markets.anomaly_model",
            "registered_version": "2",
        }
    )
    return pa.Table.from_pandas(board, preserve_index=False)


KINDS = ("fat_finger", "price_spike", "volume_burst")


def _kinds() -> pa.Table:
    """Per-kind recall of the latest tournament (two candidates x three kinds) and of an
    older one (which the dashboard must not show)."""
    rows = [
        {
            "candidate": candidate,
            "anomaly_type": kind,
            "positives": 10,
            "detected": detected,
            "recall": detected / 10,
            "precision": 0.5,
            "pr_auc": 0.6,
            "tournament_id": tournament,
            "trained_at": pd.Timestamp(NOW - timedelta(days=age)),
        }
        for tournament, age, candidates in (("t1", 2, ("lightgbm", "xgboost")), ("t0", 9, ("old",)))
        for candidate in candidates
        for detected, kind in zip((9, 4, 7), KINDS, strict=True)
    ]
    return pa.Table.from_pylist(rows)


def _gate() -> pa.Table:
    rows = [
        {
            "event_id": f"g{i}",
            "decided_at": NOW - timedelta(days=10 - 3 * i),
            "model_name": "finml_local.markets.anomaly_model",
            "challenger_version": str(i + 1),
            "champion_version": str(i) if i else None,
            "metric": "pr_auc",
            "challenger_metric": 0.6 + 0.05 * i,
            "champion_metric": 0.55 + 0.05 * i,
            "improvement": [0.05, 0.05, -0.01][i],
            "ci_low": 0.01,
            "ci_high": 0.08,
            "min_improvement": 0.0,
            "holdout_rows": 800,
            "decision": ["PROMOTE", "PROMOTE", "REJECT"][i],
            "reasons": "CI low >= min improvement",
            "validation": "{}",
        }
        for i in range(3)
    ]
    return _arrow(rows, GATE_SCHEMA)


def _rollback() -> pa.Table:
    rows = [
        {
            "event_id": "rb1",
            "rolled_back_at": NOW - timedelta(days=1),
            "model_name": "finml_local.markets.anomaly_model",
            "from_version": "3",
            "to_version": "2",
            "decision": "ROLLBACK",
            "reason": "latency regression",
        }
    ]
    return _arrow(rows, ROLLBACK_SCHEMA)


def _ab_tests() -> pa.Table:
    rows = [
        {
            "test_id": f"ab{i}",
            "analyzed_at": NOW - timedelta(days=3 - i),
            "model_name": "finml_local.markets.anomaly_model",
            "champion_versions": "2",
            "challenger_versions": "3",
            "challenger_variant": "challenger",
            "metric": "precision",
            "alpha": 0.05,
            "champion_n": 400,
            "challenger_n": 100,
            "champion_precision": 0.6,
            "challenger_precision": 0.62 + 0.02 * i,
            "champion_recall": 0.5,
            "challenger_recall": 0.52,
            "precision_p_value": 0.3 / (i + 1),
            "recall_p_value": 0.4,
            "decision": "inconclusive",
            "reason": "no significant difference",
        }
        for i in range(3)
    ]
    return _arrow(rows, AB_TESTS_SCHEMA)


def _job_runs() -> pa.Table:
    rows = []
    for r, (job, tasks) in enumerate(
        [
            ("medallion_pipeline_job", ["ingest", "silver", "gold"]),
            ("dashboard_export_job", ["export"]),
        ]
    ):
        for t, task in enumerate(tasks):
            start = NOW - timedelta(hours=2 - r, minutes=-t)
            state = "FAILED" if task == "gold" else "SUCCESS"
            rows.append(
                {
                    "run_id": f"run{r}",
                    "job": job,
                    "task": task,
                    "attempt": 1,
                    "state": state,
                    "start_time": start,
                    "end_time": start + timedelta(seconds=20 + 5 * t),
                    "seconds": 20.0 + 5 * t,
                    "exit_code": 1 if state == "FAILED" else 0,
                    "target": "local",
                    "git_commit": "abc",
                    "message": None,
                }
            )
    return _arrow(rows, JOB_RUNS_SCHEMA)


# ---- issue 24: EDA profile, inference log, features, PR curves, feature importance ------

# (layer, table, version, [(column, missing, outliers_iqr, outliers_zscore)]), 1,000 rows each
EDA_TABLES = (
    ("bronze", "bronze_trades", 2, [("price", 10, 5, 2), ("volume", 0, 30, 8)]),
    ("silver", "silver_trades", 3, [("price", 0, 4, 1), ("volume", 0, 0, 0)]),
    ("gold", "gold_bars_1m", 4, [("close", 0, 2, 1), ("volume", 0, 12, 6)]),
    (
        "features",
        "trade_features",
        5,
        [(f, 20 * (i == 1), 7 * i, i) for i, f in enumerate(FEATURES)],
    ),
)
# Pearson of the feature pairs in itertools.combinations order; Spearman is 0.9 x Pearson
PEARSON = (0.9, -0.2, 0.1, -0.7, 0.3, 0.05)
# per symbol: (ADF, KPSS) p-values of log price, then of log returns
STATIONARITY = {
    "AAPL": ((0.6, 0.01), (0.001, 0.1)),  # unit root; stationary
    "MSFT": ((0.3, 0.02), (0.01, 0.1)),  # unit root; stationary
    "SPY": ((0.5, 0.01), (0.2, 0.03)),  # unit root; unit root
}


def _eda() -> pa.Table:
    """The latest profile of one table per layer, and an older bronze version (not shown)."""
    from finml.eda.records import Stat, to_arrow

    at = NOW - timedelta(hours=3)
    parts = [
        to_arrow(
            [
                Stat("rows", 100),
                Stat("missing", 50, "price"),
                Stat("missing_fraction", 0.5, "price"),
            ],
            layer="bronze",
            table="bronze_trades",
            version=1,
            profiled_at=at - timedelta(days=1),
        )
    ]
    for layer, table, version, columns in EDA_TABLES:
        stats = [Stat("rows", 1000)]
        for column, missing, iqr, z in columns:
            stats += [
                Stat("type", None, column, "double"),
                Stat("missing", missing, column),
                Stat("missing_fraction", missing / 1000, column),
                Stat("outliers_iqr", iqr, column),
                Stat("outliers_zscore", z, column),
            ]
            if missing:
                stats.append(Stat("missing_pattern", missing, None, {"missing": [column]}))
        stats.append(
            Stat("missing_pattern", 1000 - sum(c[1] for c in columns), None, {"missing": []})
        )
        if table == "trade_features":
            stats += _eda_correlations()
        if table == "gold_bars_1m":
            stats += _eda_series()
        parts.append(to_arrow(stats, layer=layer, table=table, version=version, profiled_at=at))
    return pa.concat_tables(parts)


def _eda_correlations() -> list:
    from itertools import combinations

    from finml.eda.records import Stat

    pairs = list(combinations(FEATURES, 2))
    return [
        Stat(name, scale * r, a, {"rows": 1000}, other_column=b)
        for name, scale in (("pearson", 1.0), ("spearman", 0.9))
        for (a, b), r in zip(pairs, PEARSON, strict=True)
    ]


def _eda_series() -> list:
    from finml.eda.records import Stat

    stats = []
    for k, (symbol, tests) in enumerate(STATIONARITY.items()):
        for series, (adf, kpss) in zip(("log_price", "log_return"), tests, strict=True):
            stats.append(
                Stat("adf_pvalue", adf, series, {"statistic": -1.0, "lags": 2}, symbol=symbol)
            )
            stats.append(
                Stat("kpss_pvalue", kpss, series, {"statistic": 0.3, "lags": 4}, symbol=symbol)
            )
        profile = {"hours": [14, 15, 16], "values": [100.0 + k, 80.0, 120.0]}
        stats.append(Stat("intraday_volume", 1.5, "volume", profile, symbol=symbol))
        stats.append(Stat("intraday_volatility", 2.0, "log_return", profile, symbol=symbol))
        stats.append(
            Stat("trend_per_day", 0.001 * (k + 1), "log_price", {"r2": 0.5}, symbol=symbol)
        )
    return stats


def _inference_log() -> pa.Table:
    """10 requests, 10 minutes apart from two hours before NOW, each scoring an AAPL trade
    (flagged in the even requests) and a SPY trade; request k took 2 + k ms; the last two
    were served by challenger v3."""
    from finml.serving.inference_log import INFERENCE_LOG_SCHEMA

    rows = []
    for k in range(10):
        at = NOW - timedelta(hours=2) + timedelta(minutes=10 * k)
        challenger = k >= 8
        for j, (symbol, score) in enumerate((("AAPL", 0.9), ("SPY", 0.1))):
            inputs = {"ret_1m": k / 100, "spread_z": 1.0, "vol_5m": 0.5, "volume_z": 2.0}
            rows.append(
                {
                    "request_id": f"r{k}",
                    "logged_at": at,
                    "model_name": "finml_local.markets.anomaly_model",
                    "model_version": "3" if challenger else "2",
                    "variant": "challenger" if challenger else "champion",
                    "symbol": symbol,
                    "ts": at - timedelta(seconds=1),
                    "trade_id": f"s{k}_{j}",
                    "inputs": json.dumps(inputs, sort_keys=True),
                    "score": score,
                    "prediction": int(j == 0 and k % 2 == 0),
                    "latency_ms": 2.0 + k,
                }
            )
    return _arrow(rows, INFERENCE_LOG_SCHEMA)


def _trade_features() -> pa.Table:
    """The features of every trade of ``predictions`` (trade t{w}_{i}: vol_5m = w + i / 100)."""
    rows = [
        {
            "symbol": SYMBOLS[i % 3],
            "ts": NOW - timedelta(days=6 - w, minutes=-i),
            "trade_id": f"t{w}_{i}",
            "ret_1m": i / 1000,
            "vol_5m": w + i / 100,
            "spread_z": 0.5,
            "volume_z": -0.5,
            "label": int(i > 16),
        }
        for w in range(6)
        for i in range(20)
    ]
    return pa.Table.from_pylist(rows)


STAMPS = {  # tournament -> (trained_at, registered version)
    "t0": (NOW - timedelta(days=9), "1"),
    "t1": (NOW - timedelta(days=2), "2"),
}
PR_POINTS = {  # (tournament, candidate) -> (thresholds, recall, precision)
    ("t1", "lightgbm"): (
        [0.9, 0.7, 0.5, 0.3, 0.1],
        [0.2, 0.4, 0.6, 0.8, 1.0],
        [1.0, 0.9, 0.8, 0.6, 0.3],
    ),
    ("t1", "xgboost"): ([0.9, 0.5, 0.1], [0.1, 0.5, 1.0], [0.9, 0.6, 0.2]),
    ("t0", "lightgbm"): ([0.8, 0.5, 0.2], [0.3, 0.6, 0.9], [0.8, 0.5, 0.2]),
}
IMPORTANCE = {  # (tournament, candidate) -> [(feature, importance)] in rank order
    ("t1", "lightgbm"): [
        ("vol_5m", 0.12),
        ("spread_z", 0.05),
        ("ret_1m", 0.02),
        ("volume_z", -0.001),
    ],
    ("t1", "xgboost"): [("vol_5m", 0.1), ("spread_z", 0.04), ("ret_1m", 0.01), ("volume_z", 0.0)],
    ("t0", "lightgbm"): [("ret_1m", 0.2), ("vol_5m", 0.1)],
}


def _stamps(tournament: str) -> dict:
    trained_at, version = STAMPS[tournament]
    return {
        "tournament_id": tournament,
        "trained_at": trained_at,
        "model_name": "finml_local.markets.anomaly_model",
        "registered_version": version,
    }


PR_CURVES_SCHEMA = pa.schema(
    [
        ("candidate", pa.string()),
        ("split", pa.string()),
        ("threshold", pa.float64()),
        ("precision", pa.float64()),
        ("recall", pa.float64()),
        ("tournament_id", pa.string()),
        ("trained_at", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("registered_version", pa.string()),
    ]
)
FEATURE_IMPORTANCE_SCHEMA = pa.schema(
    [
        ("candidate", pa.string()),
        ("feature", pa.string()),
        ("importance", pa.float64()),
        ("importance_std", pa.float64()),
        ("rank", pa.int32()),
        ("method", pa.string()),
        ("tournament_id", pa.string()),
        ("trained_at", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("registered_version", pa.string()),
    ]
)


def _pr_curves() -> pa.Table:
    rows = [
        {
            "candidate": c,
            "split": "holdout",
            "threshold": t,
            "precision": p,
            "recall": r,
            **_stamps(tournament),
        }
        for (tournament, c), points in PR_POINTS.items()
        for t, r, p in zip(*points, strict=True)
    ]
    return _arrow(rows, PR_CURVES_SCHEMA)


def _feature_importance() -> pa.Table:
    rows = [
        {
            "candidate": c,
            "feature": f,
            "importance": v,
            "importance_std": 0.01,
            "rank": rank,
            "method": "permutation_pr_auc",
            **_stamps(tournament),
        }
        for (tournament, c), ranked in IMPORTANCE.items()
        for rank, (f, v) in enumerate(ranked, start=1)
    ]
    return _arrow(rows, FEATURE_IMPORTANCE_SCHEMA)
