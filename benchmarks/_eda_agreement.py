"""Agreement of FinML's EDA statistics with ydata-profiling's, per column (benchmarks/eda.py).

Compared where both compute them: count (non-missing values), missing, infinite, distinct
(FinML: HyperLogLog++, relative error), mean, std, min, max (relative error) and the 5/25/50/
75/95 % quantiles. A quantile is judged twice: its distance from ydata's divided by the
column's IQR, and its rank error against the exact data (how far the fraction of finite values
at or below it is from the level: ``percentile_approx`` promises at most 1/accuracy = 1e-4,
pandas' interpolated quantile has none). ydata's ``n_zeros`` has no FinML counterpart.

ydata leaves +-Infinity in a numeric column's mean, std, min, max and quantiles; FinML leaves
it out. Such a ydata value that is not finite is reported as ``ydata inf``, not as an error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from _common import console
from rich.table import Table

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
MOMENTS = ("mean", "std", "min", "max")
SHORT = {"Numeric": "Num", "DateTime": "Date", "Categorical": "Cat", "Boolean": "Bool"}


def agree(stats: list, variables: dict[str, dict], data: pa.Table) -> dict[str, Any]:
    """Per-column comparisons and a per-statistic summary (see the module docstring)."""
    ours = _by_column(stats)
    rows = ours.pop(None)["rows"]
    columns = {}
    for name in data.column_names:
        mine, theirs = ours.get(name, {}), variables.get(name, {})
        columns[name] = _column(mine, theirs, rows, data.column(name))
    return {"columns": columns, "summary": _summary(columns)}


def _by_column(stats: list) -> dict[str | None, dict[str, Any]]:
    found: dict[str | None, dict[str, Any]] = {None: {}}
    for s in stats:
        mine = found.setdefault(s.column_name, {})
        if s.statistic == "quantile":
            mine.setdefault("quantiles", {})[s.detail["q"]] = s.value
        elif s.statistic == "type":
            mine["type"] = s.detail
        elif s.value is not None or s.statistic in MOMENTS:
            mine[s.statistic] = s.value
    return found


def _column(mine: dict, theirs: dict, rows: int, values: pa.ChunkedArray) -> dict[str, Any]:
    ydata_type = str(theirs.get("type"))
    out: dict[str, Any] = {"types": f"{mine.get('type')}/{SHORT.get(ydata_type, ydata_type)}"}
    if "missing" in mine and "count" in theirs:
        out["count"] = _counts(rows - mine["missing"], theirs["count"])
        out["missing"] = _counts(mine["missing"], theirs["n_missing"])
    if "infinite" in mine and "n_infinite" in theirs:
        out["infinite"] = _counts(mine["infinite"], theirs["n_infinite"])
    if "distinct" in mine and theirs.get("n_distinct"):
        out["distinct"] = {
            "finml": mine["distinct"],
            "ydata": theirs["n_distinct"],
            "error": mine["distinct"] / theirs["n_distinct"] - 1,
        }
    if "n_zeros" in theirs:
        out["zeros"] = {"ydata": theirs["n_zeros"], "finml": None}
    for statistic in MOMENTS:
        if statistic in theirs and mine.get(statistic) is not None:
            out[statistic] = _relative(mine[statistic], theirs[statistic])
    quantiles = mine.get("quantiles", {})
    shared = [q for q in LEVELS if q in quantiles and f"{q:.0%}" in theirs]
    if shared:
        out["quantiles"] = _quantiles(quantiles, theirs, shared, values)
    return out


def _counts(finml: int, ydata: int) -> dict[str, Any]:
    return {"finml": int(finml), "ydata": int(ydata), "equal": int(finml) == int(ydata)}


def _relative(finml: float, ydata: Any) -> dict[str, Any]:
    if not isinstance(ydata, int | float) or not math.isfinite(ydata):
        return {"finml": finml, "ydata": str(ydata), "error": None, "note": "ydata inf"}
    error = abs(finml - ydata) / abs(ydata) if ydata else abs(finml)
    return {"finml": finml, "ydata": ydata, "error": error}


def _quantiles(
    quantiles: dict[float, float], theirs: dict, levels: list[float], values: pa.ChunkedArray
) -> dict[str, Any]:
    """The largest |FinML - ydata| / IQR and the largest rank error of FinML's quantiles."""
    finite = np.sort(_finite(values))
    iqr = theirs.get("75%", math.nan) - theirs.get("25%", math.nan) if len(finite) else math.nan
    spread, rank = 0.0, 0.0
    for q in levels:
        mine, their = quantiles[q], theirs[f"{q:.0%}"]
        if isinstance(their, int | float) and math.isfinite(their) and iqr > 0:
            spread = max(spread, abs(mine - their) / iqr)
        low = np.searchsorted(finite, mine, "left") / len(finite)
        high = np.searchsorted(finite, mine, "right") / len(finite)
        rank = max(rank, low - q, q - high, 0.0)
    return {"levels": levels, "max_error_per_iqr": spread, "max_rank_error": rank}


def _finite(values: pa.ChunkedArray) -> np.ndarray:
    array = values.to_numpy(zero_copy_only=False).astype(float)
    return array[np.isfinite(array)]


def _summary(columns: dict[str, dict]) -> dict[str, Any]:
    """Per statistic: columns compared, exactly equal, the largest error and its column."""
    summary: dict[str, Any] = {}
    for statistic in ("count", "missing", "infinite", "distinct", *MOMENTS, "quantiles"):
        found = {c: v[statistic] for c, v in columns.items() if statistic in v}
        if not found:
            continue
        errors = {c: _error(v) for c, v in found.items()}
        measured = {c: e for c, e in errors.items() if e is not None}
        worst = max(measured, key=lambda c: measured[c], default=None)
        summary[statistic] = {
            "compared": len(found),
            "equal": sum(1 for e in measured.values() if e == 0),
            "ydata_inf": len(found) - len(measured),
            "max_error": measured.get(worst) if worst else None,
            "worst_column": worst if worst and measured[worst] else None,
        }
    return summary


def _error(value: dict) -> float | None:
    if "equal" in value:
        return abs(value["finml"] - value["ydata"]) / max(value["ydata"], 1)
    if "max_rank_error" in value:
        return value["max_rank_error"]
    return None if value.get("error") is None else abs(value["error"])


def print_agreement(agreement: dict[str, Any]) -> None:
    """The per-column comparison and the per-statistic summary as rich tables."""
    table = Table(
        "column",
        "finml/ydata type",
        "count",
        "missing",
        "inf",
        "distinct",
        *MOMENTS,
        "q Δ/IQR",
        "q rank err",
        "ydata zeros",
        title="Agreement per column (FinML vs ydata; '=' equal, else the error)",
    )
    for name, c in agreement["columns"].items():
        table.add_row(
            name,
            c["types"],
            *(_cell(c.get(s)) for s in ("count", "missing", "infinite", "distinct", *MOMENTS)),
            _number(c["quantiles"]["max_error_per_iqr"]) if "quantiles" in c else "-",
            _number(c["quantiles"]["max_rank_error"]) if "quantiles" in c else "-",
            str(c["zeros"]["ydata"]) if "zeros" in c else "-",
        )
    console.print(table)
    totals = Table(
        "statistic",
        "columns",
        "equal",
        "ydata inf",
        "max error",
        "worst column",
        title="Agreement per statistic",
    )
    for statistic, s in agreement["summary"].items():
        totals.add_row(
            statistic,
            str(s["compared"]),
            str(s["equal"]),
            str(s["ydata_inf"]),
            _number(s["max_error"]),
            s["worst_column"] or "-",
        )
    console.print(totals)


def _cell(value: dict | None) -> str:
    if value is None:
        return "-"
    if "equal" in value:
        diff = value["finml"] - value["ydata"]
        return "=" if value["equal"] else f"{diff:+,}"
    if value.get("note"):
        return value["note"]
    return _number(value["error"])


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return "=" if value == 0 else f"{value:+.1e}" if value < 0 else f"{value:.1e}"
