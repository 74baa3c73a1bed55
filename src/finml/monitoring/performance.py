"""Model performance per time window once labels arrive -> ``model_monitoring``.

Scored rows come from ``predictions`` (batch) or ``inference_log`` (serving); labels from
any DataFrame with ``trade_id`` and ``label`` (``test_set``, ``trade_features``, a labelling
job). The join and the windowing run in Spark; ranking metrics (PR-AUC, ROC-AUC) are exact,
computed per window group by scikit-learn in ``applyInPandas``. Latency percentiles come
from ``inference_log.latency_ms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.monitoring.schemas import append_records

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.runtime.delta import DeltaTables

Source = Literal["predictions", "inference_log"]
_METRICS = (
    "count long, positive_count long, predicted_positive_count long, pr_auc double, "
    "roc_auc double, precision double, recall double, f1 double, brier_score double"
)
_KEYS = ("window_start", "window_end", "model_name", "model_version")


def window_metrics(frame: pd.DataFrame) -> dict[str, float | int]:
    """Classification metrics of one window: ``label`` (0/1), ``score``, ``prediction``.

    AUCs are NaN when the window holds only one class (they are undefined there).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = frame["label"].to_numpy(np.int64)
    score = frame["score"].to_numpy(np.float64)
    pred = frame["prediction"].to_numpy(np.int64)
    tp = int(((pred == 1) & (y == 1)).sum())
    predicted, positives = int(pred.sum()), int(y.sum())
    both_classes = 0 < positives < y.size
    precision = tp / predicted if predicted else math.nan
    recall = tp / positives if positives else math.nan
    f1 = 2 * tp / (predicted + positives) if predicted + positives else math.nan
    return {
        "count": int(y.size),
        "positive_count": positives,
        "predicted_positive_count": predicted,
        "pr_auc": float(average_precision_score(y, score)) if both_classes else math.nan,
        "roc_auc": float(roc_auc_score(y, score)) if both_classes else math.nan,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "brier_score": float(np.mean((score - y) ** 2)) if y.size else math.nan,
    }


def _grouped_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    keys = {k: frame[k].iloc[0] for k in _KEYS}
    return pd.DataFrame([{**keys, **window_metrics(frame)}])


@dataclass
class PerformanceMonitor:
    """Windowed metrics of a scored table joined with labels.

    Args:
        tables: where ``model_monitoring`` is written.
        granularity: Spark window duration, e.g. ``"1 day"`` or ``"1 hour"``.
    """

    tables: DeltaTables
    granularity: str = "1 day"

    def compute(
        self, scored: DataFrame, labels: DataFrame, source: Source = "predictions"
    ) -> list[dict[str, Any]]:
        """One ``model_monitoring`` record per (window, model_name, model_version).

        ``scored`` follows the ``predictions`` or ``inference_log`` contract; rows without
        a label are counted in ``count`` but not in the metrics.

        Raises:
            DataError: a required column is missing.
        """
        from pyspark.sql import functions as F

        _require(scored, ["trade_id", "score", "prediction", "model_name", "model_version"], source)
        _require(labels, ["trade_id", "label"], "labels")
        event = F.col("ts") if "ts" in scored.columns else F.lit(None).cast("timestamp")
        if source == "inference_log":
            _require(scored, ["logged_at", "latency_ms"], source)
            event = F.coalesce(event, F.col("logged_at"))
        win = F.window(event, self.granularity)
        base = scored.select(
            win.start.alias("window_start"),
            win.end.alias("window_end"),
            "model_name",
            F.col("model_version").cast("string").alias("model_version"),
            "trade_id",
            "score",
            "prediction",
            *(["latency_ms"] if source == "inference_log" else []),
        )
        label = labels.select("trade_id", F.col("label").cast("int").alias("label")).dropDuplicates(
            ["trade_id"]
        )
        if source == "predictions":  # a few days of batch predictions: metrics on the driver
            collected = _joined_on_driver(base, label)
            if collected is not None:
                now = datetime.now(UTC)
                return [_record(r, source, self.granularity, now) for r in _rows(collected)]
        totals = base.groupBy(*_KEYS).agg(
            F.count(F.lit(1)).alias("total"),
            *(
                [F.percentile_approx("latency_ms", [0.5, 0.95, 0.99], 10_000).alias("lat")]
                if source == "inference_log"
                else []
            ),
        )
        joined = base.join(label, "trade_id", "inner").select(
            *_KEYS, "label", "score", "prediction"
        )
        schema = ", ".join(
            f"{k} {t}" for k, t in zip(_KEYS, ("timestamp",) * 2 + ("string",) * 2, strict=True)
        )
        metrics = joined.groupBy(*_KEYS).applyInPandas(_grouped_metrics, f"{schema}, {_METRICS}")
        rows = totals.join(metrics, list(_KEYS), "left").orderBy(*_KEYS).collect()
        now = datetime.now(UTC)
        return [_record(row.asDict(), source, self.granularity, now) for row in rows]

    def run(
        self, scored: DataFrame, labels: DataFrame, source: Source = "predictions"
    ) -> list[dict[str, Any]]:
        """:meth:`compute`, then append the records to ``model_monitoring``."""
        records = self.compute(scored, labels, source)
        append_records(self.tables, "model_monitoring", records)
        return records


def _joined_on_driver(base: DataFrame, label: DataFrame) -> pd.DataFrame | None:
    """``base`` left-joined with ``label`` as pandas when it has at most ``DRIVER_ROWS``
    rows (then one Spark job, and the metrics need no Python worker), else None."""
    from finml.runtime.delta import collect_small

    joined = collect_small(base.join(label, "trade_id", "left"))
    return None if joined is None else joined.to_pandas()


def _rows(joined: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows :meth:`PerformanceMonitor.compute`'s Spark path collects, from ``joined``
    (scored rows with ``label``, null where none): per window and version, ``total`` and
    :func:`window_metrics` of the labelled rows (all null without one), ordered by key."""
    empty = dict.fromkeys(name.split()[0] for name in _METRICS.split(", "))
    rows = []
    for keys, group in joined.groupby(list(_KEYS), sort=True, dropna=False):
        labelled = group[group["label"].notna()].astype({"label": "int64"})
        key = {
            k: v.to_pydatetime() if isinstance(v, pd.Timestamp) else v
            for k, v in zip(_KEYS, keys, strict=True)
        }
        metrics = window_metrics(labelled) if len(labelled) else empty
        rows.append({**key, "total": len(group), **metrics})
    return rows


def _record(row: dict, source: str, granularity: str, now: datetime) -> dict[str, Any]:
    latency = row.get("lat") or [None, None, None]
    return {
        "window": {"start": _utc(row["window_start"]), "end": _utc(row["window_end"])},
        "granularity": granularity,
        "model_name": row["model_name"],
        "model_version": row["model_version"],
        "source": source,
        "count": int(row["total"]),
        "labelled_count": int(row["count"] or 0),
        "positive_count": row["positive_count"],
        "predicted_positive_count": row["predicted_positive_count"],
        **{k: _finite(row[k]) for k in ("pr_auc", "roc_auc", "precision", "recall", "f1")},
        "brier_score": _finite(row["brier_score"]),
        "latency_p50_ms": latency[0],
        "latency_p95_ms": latency[1],
        "latency_p99_ms": latency[2],
        "_computed_at": now,
    }


def _utc(value: datetime | None) -> datetime | None:
    # Spark returns naive datetimes in the session time zone, which FinML pins to UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _require(frame: DataFrame, columns: list[str], which: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{which}: expected columns {missing}, got {frame.columns}")
