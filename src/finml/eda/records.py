"""The ``eda_profile`` table: one row per statistic, long format.

A row names where the statistic was measured (``layer``, ``table_name`` at
``table_version``, ``column_name``, for per-symbol statistics ``symbol``, for correlations
``other_column``), the ``statistic`` (see :data:`STATISTICS`), its number ``value`` and, for
structured results (histograms, co-missing patterns, test details), a JSON ``detail``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

TABLE = "eda_profile"

SCHEMA = pa.schema(
    [
        pa.field("profiled_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("layer", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("table_version", pa.int64(), nullable=False),
        pa.field("column_name", pa.string()),
        pa.field("other_column", pa.string()),
        pa.field("symbol", pa.string()),
        pa.field("statistic", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)

# statistic -> what it is (docs/eda.md lists the same)
STATISTICS = {
    "rows": "rows in the table version",
    "type": "Spark SQL type of the column (detail)",
    "missing": "NULL or NaN values",
    "missing_fraction": "missing / rows",
    "infinite": "+-Infinity values (left out of every other numeric statistic)",
    "distinct": "distinct non-missing values (approx_count_distinct)",
    "mean": "mean of the finite values",
    "std": "sample standard deviation (ddof 1)",
    "min": "smallest value (timestamps: epoch seconds, ISO in detail)",
    "max": "largest value (timestamps: epoch seconds, ISO in detail)",
    "quantile": "quantile (detail: its level q); percentile_approx",
    "iqr": "q75 - q25",
    "outliers_iqr": "values outside the Tukey fences q25 - k*IQR, q75 + k*IQR",
    "outliers_zscore": "values with |x - mean| / std above the threshold",
    "histogram": "equal-width histogram between min and max (detail: edges, counts)",
    "missing_pattern": "rows with exactly this set of missing columns (detail: columns)",
    "pearson": "Pearson correlation with other_column (detail: rows used)",
    "spearman": "Spearman rank correlation with other_column (detail: rows used)",
    "adf_pvalue": "augmented Dickey-Fuller p-value (H0: unit root; detail: statistic, lags)",
    "kpss_pvalue": "KPSS p-value (H0: stationary; detail: statistic, lags)",
    "intraday_volume": "hour-of-day profile of mean bar volume (value: max/min ratio)",
    "intraday_volatility": "hour-of-day profile of return std (value: max/min ratio)",
    "trend_per_day": "OLS slope of the log price per day (detail: r2)",
}


@dataclass(frozen=True)
class Stat:
    """One statistic of one column (or of the table, ``column_name`` None)."""

    statistic: str
    value: float | None = None
    column_name: str | None = None
    detail: dict[str, Any] | str | None = None
    other_column: str | None = None
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"statistic: expected one of {sorted(STATISTICS)}, got {self.statistic!r}"
            )


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def to_arrow(
    stats: Iterable[Stat], *, layer: str, table: str, version: int, profiled_at: datetime
) -> pa.Table:
    """``stats`` of ``table`` at ``version`` as rows of :data:`SCHEMA`."""
    rows = [
        {
            "profiled_at": profiled_at,
            "layer": layer,
            "table_name": table,
            "table_version": version,
            "column_name": s.column_name,
            "other_column": s.other_column,
            "symbol": s.symbol,
            "statistic": s.statistic,
            "value": _number(s.value),
            "detail": s.detail
            if s.detail is None or isinstance(s.detail, str)
            else json.dumps(_finite(s.detail), default=str),
        }
        for s in stats
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
