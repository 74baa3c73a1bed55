"""In-memory drift detection: freeze a reference once, compare any number of windows.

>>> detector = DriftDetector(reference_df, categorical=["session"])   # doctest: +SKIP
>>> report = detector.compare(current_df)                              # doctest: +SKIP
>>> reports = detector.compare_windows(live_df, "trade_date", "1 day")  # doctest: +SKIP

Numeric columns are sorted once (in parallel threads: numpy releases the GIL while sorting);
every metric then reads the sorted arrays, so a window costs one sort and one linear merge
per column.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.monitoring.drift import metrics as m
from finml.monitoring.drift.report import ColumnDrift, DriftReport, DriftType, Window, severity
from finml.monitoring.settings import DriftSettings

if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

_THREADS = max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's frozen reference: sorted values, bin edges, counts, std."""

    name: str
    values: np.ndarray  # sorted, no NaN
    edges: np.ndarray
    counts: np.ndarray
    std: float

    @classmethod
    def build(cls, name: str, values: np.ndarray, bins: int) -> NumericReference:
        ordered = m.sorted_finite(values)
        edges = m.quantile_edges(ordered, bins)
        std = float(np.std(ordered)) if ordered.size else math.nan
        return cls(name, ordered, edges, m.bin_counts(ordered, edges), std)

    def compare(self, current: np.ndarray, settings: DriftSettings) -> ColumnDrift:
        """All numeric metrics of ``current`` (any order, NaN ignored) against this reference."""
        cur = m.sorted_finite(current)
        if settings.binning == "evidently":
            ref_shares, cur_shares = m.evidently_shares(self.values, cur)
            psi = m.psi(ref_shares, cur_shares, epsilon=0.0)
        else:
            ref_shares, cur_shares = m.shares(self.counts), m.shares(m.bin_counts(cur, self.edges))
            psi = m.psi(ref_shares, cur_shares, settings.epsilon)
        ks, w1 = m.ks_wasserstein(self.values, cur)
        empty = cur.size == 0 or self.values.size == 0
        return ColumnDrift(
            column_name=self.name,
            data_type="numeric",
            count_reference=int(self.values.size),
            count_current=int(cur.size),
            population_stability_index=math.nan if empty else psi,
            js_distance=m.js_distance(ref_shares, cur_shares),
            tv_distance=math.nan if empty else m.tv_distance(ref_shares, cur_shares),
            l_infinity_distance=math.nan if empty else m.l_infinity(ref_shares, cur_shares),
            ks_statistic=ks,
            ks_pvalue=m.ks_pvalue(ks, self.values, cur),
            wasserstein_distance=w1 / self.std if self.std > 0 else math.nan,
        )


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical column's frozen reference: category counts (nulls are a category)."""

    name: str
    counts: dict[str, int]

    @classmethod
    def build(cls, name: str, values: pd.Series) -> CategoricalReference:
        return cls(name, _category_counts(values))

    def compare(self, current: pd.Series, settings: DriftSettings) -> ColumnDrift:
        """PSI/JS on category shares over the union of categories (unseen ones included:
        a category new in ``current`` has reference share 0, clipped to epsilon for PSI)."""
        cur_counts = _category_counts(current)
        keys = sorted(set(self.counts) | set(cur_counts))
        ref = np.array([self.counts.get(k, 0) for k in keys], dtype=np.int64)
        cur = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.int64)
        ref_shares, cur_shares = m.shares(ref), m.shares(cur)
        empty = ref.sum() == 0 or cur.sum() == 0
        chi2, p = m.chi_squared(ref, cur)
        return ColumnDrift(
            column_name=self.name,
            data_type="categorical",
            count_reference=int(ref.sum()),
            count_current=int(cur.sum()),
            population_stability_index=math.nan
            if empty
            else m.psi(ref_shares, cur_shares, settings.epsilon),
            js_distance=m.js_distance(ref_shares, cur_shares),
            tv_distance=math.nan if empty else m.tv_distance(ref_shares, cur_shares),
            l_infinity_distance=math.nan if empty else m.l_infinity(ref_shares, cur_shares),
            chi_squared_statistic=chi2,
            chi_squared_pvalue=p,
        )


def _category_counts(values: pd.Series) -> dict[str, int]:
    counts = values.astype("string").fillna("<null>").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


class DriftDetector:
    """Drift of ``columns`` between a frozen reference and current windows.

    Args:
        reference: the baseline frame (pandas).
        columns: columns to monitor; default every numeric column plus ``categorical``.
        categorical: columns compared as categories (PSI/JS on shares, chi-squared).
        settings: binning, epsilon, thresholds.

    Raises:
        DataError: a requested column is missing, or a numeric one is not numeric.
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        columns: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        settings: DriftSettings | None = None,
    ) -> None:
        self.settings = settings or DriftSettings()
        self.categorical = list(categorical)
        numeric_default = [
            c
            for c in reference.columns
            if pd.api.types.is_numeric_dtype(reference[c])
            and not pd.api.types.is_bool_dtype(reference[c])
            and c not in self.categorical
        ]
        wanted = list(columns) if columns is not None else numeric_default + self.categorical
        _require_columns(reference, wanted, "reference")
        self.numeric = [c for c in wanted if c not in self.categorical]
        for column in self.numeric:
            if not pd.api.types.is_numeric_dtype(reference[column]):
                raise DataError(
                    f"reference column {column!r}: expected a numeric dtype, got "
                    f"{reference[column].dtype} (list it in categorical=...)"
                )
        bins = self.settings.bins
        self._numeric = _parallel(
            lambda c: NumericReference.build(c, reference[c].to_numpy(np.float64), bins),
            self.numeric,
        )
        self._categorical = [
            CategoricalReference.build(c, reference[c]) for c in wanted if c in self.categorical
        ]

    @property
    def columns(self) -> list[str]:
        return self.numeric + [c.name for c in self._categorical]

    def compare(
        self,
        current: pd.DataFrame,
        window: Window | None = None,
        drift_type: DriftType = "BASELINE",
        granularity: str | None = None,
    ) -> DriftReport:
        """Drift of every monitored column of ``current`` against the reference.

        Raises:
            DataError: ``current`` lacks a monitored column.
        """
        _require_columns(current, self.columns, "current")
        s = self.settings
        drifts = _parallel(
            lambda ref: ref.compare(current[ref.name].to_numpy(np.float64), s), self._numeric
        )
        drifts += [ref.compare(current[ref.name], s) for ref in self._categorical]
        graded = [replace(d, severity=severity(d, s)) for d in drifts]
        return DriftReport(window or Window(), graded, drift_type, granularity)

    def compare_windows(
        self, current: pd.DataFrame, window_column: str, granularity: str = "1 day"
    ) -> list[DriftReport]:
        """One report per distinct value of ``window_column`` (a date or timestamp), in
        time order; each window is ``[value, value + granularity)``.

        Raises:
            DataError: ``window_column`` is missing or ``granularity`` is not a duration.
        """
        _require_columns(current, [window_column], "current")
        step = _duration(granularity)
        starts = pd.to_datetime(current[window_column], utc=True)
        reports = []
        for start, frame in current.groupby(starts, sort=True):
            window = Window(start.to_pydatetime(), (start + step).to_pydatetime())
            reports.append(self.compare(frame, window, granularity=granularity))
        return reports


def _parallel(work: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    items = list(items)
    if len(items) <= 1 or _THREADS == 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        return list(pool.map(work, items))


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], which: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{which} frame: expected columns {missing}, got columns {list(frame.columns)}"
        )


def _duration(granularity: str) -> pd.Timedelta:
    try:
        return pd.Timedelta(granularity)
    except ValueError as exc:
        raise DataError(
            f"granularity: expected a duration like '1 day' or '12h', got {granularity!r}"
        ) from exc
