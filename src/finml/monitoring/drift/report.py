"""Drift results: one :class:`ColumnDrift` per column and window, grouped in a
:class:`DriftReport` that prints as a table and converts to ``drift_monitoring`` rows."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from finml.vocabulary import DriftSeverity

if TYPE_CHECKING:
    import pyarrow as pa

    from finml.monitoring.settings import DriftSettings

DriftType = Literal["BASELINE", "CONSECUTIVE"]


@dataclass(frozen=True)
class Window:
    """A monitoring window ``[start, end)``; both None for an unwindowed comparison."""

    start: datetime | None = None
    end: datetime | None = None

    def __str__(self) -> str:
        if self.start is None:
            return "all"
        return (
            f"{self.start:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M}"
            if self.end
            else str(self.start)
        )


@dataclass(frozen=True)
class ColumnDrift:
    """Every drift metric of one column in one window (NaN where a metric does not apply)."""

    column_name: str
    data_type: Literal["numeric", "categorical"]
    count_reference: int
    count_current: int
    population_stability_index: float
    js_distance: float
    tv_distance: float
    l_infinity_distance: float
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan
    wasserstein_distance: float = math.nan
    chi_squared_statistic: float = math.nan
    chi_squared_pvalue: float = math.nan
    severity: DriftSeverity = DriftSeverity.NONE


def severity(drift: ColumnDrift, settings: DriftSettings) -> DriftSeverity:
    """The highest level any gating metric (``settings.gate_metrics``) reaches."""
    t = settings.thresholds
    values = {
        "psi": (drift.population_stability_index, t.psi_medium, t.psi_high),
        "js": (drift.js_distance, t.js_medium, t.js_high),
        "wasserstein": (drift.wasserstein_distance, t.wasserstein_medium, t.wasserstein_high),
    }
    level = DriftSeverity.NONE
    for name in settings.gate_metrics:
        value, medium, high = values[name]
        if math.isnan(value):
            continue
        if value >= high:
            return DriftSeverity.HIGH
        if value >= medium:
            level = DriftSeverity.MEDIUM
    return level


@dataclass
class DriftReport:
    """Drift of every monitored column for one window against the reference."""

    window: Window
    columns: list[ColumnDrift]
    drift_type: DriftType = "BASELINE"
    granularity: str | None = None
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def severity(self) -> DriftSeverity:
        """The worst column severity."""
        return DriftSeverity.worst(c.severity for c in self.columns)

    @property
    def drifted(self) -> list[ColumnDrift]:
        """Columns at MEDIUM or HIGH, worst first."""
        hits = [c for c in self.columns if c.severity != DriftSeverity.NONE]
        return sorted(hits, key=lambda c: -DriftSeverity(c.severity).rank)

    def column(self, name: str) -> ColumnDrift:
        for drift in self.columns:
            if drift.column_name == name:
                return drift
        raise KeyError(f"drift report: expected a column {name!r}, got {self.names()}")

    def names(self) -> list[str]:
        return [c.column_name for c in self.columns]

    def __str__(self) -> str:
        head = (
            f"drift {self.drift_type.lower()} window {self.window}: severity {self.severity}, "
            f"{len(self.drifted)}/{len(self.columns)} columns drifted"
        )
        lines = [head, f"  {'column':<24}{'psi':>9}{'js_dist':>9}{'ks':>8}{'wass':>8}  severity"]
        for c in self.columns:
            lines.append(
                f"  {c.column_name:<24}{c.population_stability_index:>9.4f}{c.js_distance:>9.4f}"
                f"{c.ks_statistic:>8.4f}{c.wasserstein_distance:>8.4f}  {c.severity}"
            )
        return "\n".join(lines)

    def to_records(self, run_id: str = "") -> list[dict[str, Any]]:
        """Rows shaped like ``drift_monitoring`` (see :mod:`finml.monitoring.schemas`)."""
        rows = []
        for c in self.columns:
            d = asdict(c)
            rows.append(
                {
                    "window": {"start": self.window.start, "end": self.window.end},
                    "granularity": self.granularity,
                    "column_name": c.column_name,
                    "data_type": c.data_type,
                    "drift_type": self.drift_type,
                    "count_reference": c.count_reference,
                    "count_current": c.count_current,
                    "population_stability_index": _null(c.population_stability_index),
                    "js_distance": _null(c.js_distance),
                    "ks_test": _test(d["ks_statistic"], d["ks_pvalue"]),
                    "wasserstein_distance": _null(c.wasserstein_distance),
                    "chi_squared_test": _test(d["chi_squared_statistic"], d["chi_squared_pvalue"]),
                    "tv_distance": _null(c.tv_distance),
                    "l_infinity_distance": _null(c.l_infinity_distance),
                    "severity": str(c.severity),
                    "_run_id": run_id,
                    "_computed_at": self.computed_at,
                }
            )
        return rows

    def to_arrow(self, run_id: str = "") -> pa.Table:
        from finml.monitoring.schemas import DRIFT_MONITORING, arrow_table

        return arrow_table(self.to_records(run_id), DRIFT_MONITORING)


def _null(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _test(statistic: float, pvalue: float) -> dict[str, float | None] | None:
    if math.isnan(statistic):
        return None
    return {"statistic": float(statistic), "pvalue": _null(pvalue)}
