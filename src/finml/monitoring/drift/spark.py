"""Drift on tables too big for one machine: approximate quantiles + one histogram pass.

1. ``approxQuantile`` gives each numeric column ``spark_fine_bins`` reference quantile edges
   (one job for all columns); the PSI edges are every ``fine / bins``-th of them.
2. One aggregation over ``reference UNION current`` counts rows per (side, window, column,
   bucket) — numeric values bucketed by Spark ML's ``Bucketizer`` (binary search in the JVM),
   categorical values by their string form.
3. The driver turns the small count table into PSI / JS (coarse bins), KS and normalised
   Wasserstein (read off the fine-bin CDFs: KS at the fine edges is a lower bound of the
   exact statistic, W1 integrates between fine edges and ignores the open tails).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import kstwo

from finml.errors import DataError
from finml.monitoring.drift import metrics as m
from finml.monitoring.drift.report import ColumnDrift, DriftReport, Window, severity
from finml.monitoring.settings import DriftSettings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_REF = "reference"


def spark_drift(
    reference: DataFrame,
    current: DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    window_column: str | None = None,
    granularity: str = "1 day",
    settings: DriftSettings | None = None,
) -> list[DriftReport]:
    """Drift of each window of ``current`` against ``reference`` without collecting rows.

    Returns one :class:`DriftReport` per window (one in total without ``window_column``).

    Raises:
        DataError: a column is missing, ``spark_fine_bins`` is not a multiple of ``bins``, or
            ``binning`` is not ``quantile``.
    """
    from dataclasses import replace

    s = settings or DriftSettings()
    if s.binning != "quantile":  # Evidently's bins depend on both samples: not one pass
        raise DataError(
            f"drift.binning: expected 'quantile' on the Spark path, got {s.binning!r} "
            "(collect to pandas for the Evidently-compatible mode)"
        )
    if s.spark_fine_bins % s.bins:
        raise DataError(
            f"spark_fine_bins: expected a multiple of bins ({s.bins}), got {s.spark_fine_bins}"
        )
    _require(reference, [*numeric, *categorical], "reference")
    _require(
        current, [*numeric, *categorical, *([window_column] if window_column else [])], "current"
    )
    fine, stds = _reference_profile(reference, numeric, s)
    counts = _histograms(reference, current, numeric, categorical, fine, window_column)
    step = timedelta(seconds=_seconds(granularity))
    reports = []
    starts: list[datetime | None] = [k for k in counts if isinstance(k, datetime) or k is None]
    for start in sorted(starts, key=lambda k: (k is not None, k or datetime.min)):
        drifts = [
            _numeric_drift(c, fine[c], stds[c], counts[_REF][c], counts[start][c], s)
            for c in numeric
        ]
        drifts += [_categorical_drift(c, counts[_REF][c], counts[start][c], s) for c in categorical]
        graded = [replace(d, severity=severity(d, s)) for d in drifts]
        window = Window() if start is None else Window(start, start + step)
        reports.append(DriftReport(window, graded, granularity=granularity if start else None))
    return reports


def _reference_profile(
    reference: DataFrame, numeric: Sequence[str], s: DriftSettings
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    from pyspark.sql import functions as F

    if not numeric:
        return {}, {}
    probs = [i / s.spark_fine_bins for i in range(1, s.spark_fine_bins)]
    cast = reference.select(*[F.col(c).cast("double").alias(c) for c in numeric])
    quantiles = cast.approxQuantile(list(numeric), probs, s.spark_relative_error)
    std_row = cast.agg(*[F.stddev_pop(c).alias(c) for c in numeric]).first()
    assert std_row is not None  # an aggregation always returns one row
    # raw (possibly repeated) quantiles: the PSI edges are picked by position from them
    fine = {c: np.asarray(q, dtype=float) for c, q in zip(numeric, quantiles, strict=True)}
    stds = {c: float(std_row[c]) if std_row[c] is not None else math.nan for c in numeric}
    return fine, stds


def _histograms(
    reference: DataFrame,
    current: DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    fine: dict[str, np.ndarray],
    window_column: str | None,
) -> dict[object, dict[str, dict[str, int]]]:
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import functions as F

    window = (
        F.col(window_column).cast("timestamp") if window_column else F.lit(None).cast("timestamp")
    )
    sides = [
        reference.select(*numeric, *categorical)
        .withColumn("_w", F.lit(None).cast("timestamp"))
        .withColumn("_ref", F.lit(True)),
        current.select(*numeric, *categorical, window.alias("_w")).withColumn("_ref", F.lit(False)),
    ]
    both = sides[0].unionByName(sides[1])
    if numeric:
        both = Bucketizer(
            splitsArray=[[-math.inf, *np.unique(fine[c]).tolist(), math.inf] for c in numeric],
            inputCols=list(numeric),
            outputCols=[f"_b_{i}" for i in range(len(numeric))],
            handleInvalid="keep",
        ).transform(
            both.select(
                *[F.col(c).cast("double").alias(c) for c in numeric], *categorical, "_w", "_ref"
            )
        )
    keys = [
        F.struct(
            F.lit(c).alias("c"), _bucket_key(f"_b_{i}", np.unique(fine[c]).size + 1).alias("k")
        )
        for i, c in enumerate(numeric)
    ]
    keys += [
        F.struct(
            F.lit(c).alias("c"), F.coalesce(F.col(c).cast("string"), F.lit("<null>")).alias("k")
        )
        for c in categorical
    ]
    rows = (
        both.select("_w", "_ref", F.explode(F.array(*keys)).alias("x"))
        .where(F.col("x.k").isNotNull())
        .groupBy("_ref", "_w", "x.c", "x.k")
        .count()
        .collect()
    )
    out: dict[object, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        start = row["_w"].replace(tzinfo=UTC) if row["_w"] is not None else None
        out[_REF if row["_ref"] else start][row["c"]][row["k"]] = int(row["count"])
    if not any(k != _REF for k in out):
        out.setdefault(None, defaultdict(dict))  # an empty current still yields one report
    return out


def _bucket_key(bucket_column: str, buckets: int):
    from pyspark.sql import functions as F

    b = F.col(bucket_column)
    # Bucketizer(handleInvalid="keep") puts NaN in an extra last bucket: treat it as missing.
    return F.when(b.isNull() | (b >= buckets), None).otherwise(b.cast("int").cast("string"))


def _fine_counts(counts: dict[str, int], buckets: int) -> np.ndarray:
    vector = np.zeros(buckets, dtype=np.int64)
    for key, value in counts.items():
        vector[int(key)] = value
    return vector


def _numeric_drift(
    name: str,
    quantiles: np.ndarray,
    std: float,
    ref_counts: dict[str, int],
    cur_counts: dict[str, int],
    s: DriftSettings,
) -> ColumnDrift:
    fine_edges = np.unique(quantiles)
    buckets = fine_edges.size + 1
    ref_fine, cur_fine = _fine_counts(ref_counts, buckets), _fine_counts(cur_counts, buckets)
    step = s.spark_fine_bins // s.bins
    coarse_edges = (
        np.unique(quantiles[step - 1 :: step][: s.bins - 1]) if quantiles.size else fine_edges
    )
    lower = np.concatenate(([-math.inf], fine_edges))
    to_coarse = np.searchsorted(coarse_edges, lower, side="right")
    ref_c = np.bincount(to_coarse, ref_fine, minlength=coarse_edges.size + 1)
    cur_c = np.bincount(to_coarse, cur_fine, minlength=coarse_edges.size + 1)
    n1, n2 = int(ref_fine.sum()), int(cur_fine.sum())
    empty = n1 == 0 or n2 == 0
    ref_sh, cur_sh = m.shares(ref_c), m.shares(cur_c)
    ks = w1 = math.nan
    if not empty:
        diff = np.cumsum(ref_fine)[:-1] / n1 - np.cumsum(cur_fine)[:-1] / n2  # at fine edges
        ks = float(np.abs(diff).max()) if diff.size else 0.0
        w1 = float(np.abs(diff[:-1]) @ np.diff(fine_edges)) if diff.size > 1 else 0.0
    pvalue = math.nan if empty else float(np.clip(kstwo.sf(ks, round(n1 * n2 / (n1 + n2))), 0, 1))
    return ColumnDrift(
        column_name=name,
        data_type="numeric",
        count_reference=n1,
        count_current=n2,
        population_stability_index=math.nan if empty else m.psi(ref_sh, cur_sh, s.epsilon),
        js_distance=m.js_distance(ref_sh, cur_sh),
        tv_distance=math.nan if empty else m.tv_distance(ref_sh, cur_sh),
        l_infinity_distance=math.nan if empty else m.l_infinity(ref_sh, cur_sh),
        ks_statistic=ks,
        ks_pvalue=pvalue,
        wasserstein_distance=w1 / std if std and std > 0 and not empty else math.nan,
    )


def _categorical_drift(
    name: str, ref_counts: dict[str, int], cur_counts: dict[str, int], s: DriftSettings
) -> ColumnDrift:
    keys = sorted(set(ref_counts) | set(cur_counts))
    ref = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.int64)
    cur = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.int64)
    ref_sh, cur_sh = m.shares(ref), m.shares(cur)
    empty = ref.sum() == 0 or cur.sum() == 0
    chi2, p = m.chi_squared(ref, cur)
    return ColumnDrift(
        column_name=name,
        data_type="categorical",
        count_reference=int(ref.sum()),
        count_current=int(cur.sum()),
        population_stability_index=math.nan if empty else m.psi(ref_sh, cur_sh, s.epsilon),
        js_distance=m.js_distance(ref_sh, cur_sh),
        tv_distance=math.nan if empty else m.tv_distance(ref_sh, cur_sh),
        l_infinity_distance=math.nan if empty else m.l_infinity(ref_sh, cur_sh),
        chi_squared_statistic=chi2,
        chi_squared_pvalue=p,
    )


def _require(frame: DataFrame, columns: Sequence[str], which: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{which} DataFrame: expected columns {missing}, got {frame.columns}")


def _seconds(granularity: str) -> float:
    import pandas as pd

    try:
        return pd.Timedelta(granularity).total_seconds()
    except ValueError as exc:
        raise DataError(
            f"granularity: expected a duration like '1 day' or '12h', got {granularity!r}"
        ) from exc
