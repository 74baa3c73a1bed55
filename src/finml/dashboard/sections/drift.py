"""Drift: PSI and Jensen-Shannon distance per feature over time, latest severity.

``drift_monitoring`` can hold rows of different checks: production windows against the
champion's training data (``reference`` "<model> v<N> / trade_features v<M>", written by
:mod:`finml.jobs.production`) and checks without a model reference (``finml drift`` and the
demo's simulated-market scenario, ``reference`` null). The section shows one reference's
rows -- the current champion's, else the newest reference's, else the unreferenced ones --
and says which, so a simulated market is never read as the champion's features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    floats,
    missing,
    newest,
    rows,
    scalar,
    section,
    spec,
    utc_day,
    window_end,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, Status, TableBlock
from finml.vocabulary import DriftSeverity

SPEC_ID = "drift"
TABLE = "drift_monitoring"
NO_REFERENCE = "no model reference (simulated drift scenario / `finml drift`)"
_VERSION = re.compile(r"\bv(\S+) / ")
_SEVERITY_STATUS: dict[str, Status] = {
    DriftSeverity.NONE: "ok",
    DriftSeverity.MEDIUM: "warn",
    DriftSeverity.HIGH: "bad",
}


@dataclass(frozen=True)
class DriftRows:
    """The drift rows a dashboard shows: one reference's, with what they are."""

    frame: pd.DataFrame  # with column ``window_end``
    reference: str | None  # None: rows without a model reference
    champion: bool  # the reference is the current champion's
    hidden: int  # rows of other references not shown

    @property
    def label(self) -> str:
        if self.reference is None:
            return NO_REFERENCE
        return self.reference + (" (current champion)" if self.champion else "")


def drift_rows(ctx: ExportContext) -> DriftRows | None:
    """The rows of ``drift_monitoring`` to show (None: no rows): the current champion's
    reference, else the newest window's reference, else the rows without a reference."""
    frame = ctx.frame(TABLE)
    if frame is None or not len(frame):
        return None
    frame = frame.assign(window_end=window_end(frame))
    refs = frame["reference"] if "reference" in frame else pd.Series(None, index=frame.index)
    known = frame[refs.notna()]
    if not len(known):
        return DriftRows(frame, None, False, 0)
    champion = _champion_version(ctx)
    mine = known[known["reference"].map(lambda r: _version(r) == champion)]
    chosen = mine if champion is not None and len(mine) else known
    reference = str(chosen.sort_values("window_end")["reference"].iloc[-1])
    shown = frame[refs == reference]
    return DriftRows(shown, reference, chosen is mine, len(frame) - len(shown))


def _version(reference: str) -> str | None:
    found = _VERSION.search(reference)
    return found.group(1) if found else None


def _champion_version(ctx: ExportContext) -> str | None:
    versions = ctx.model_versions("anomaly_model") or []
    return next((str(v.version) for v in versions if "champion" in v.aliases), None)


def worst_window(found: DriftRows) -> tuple[str, list[str]]:
    """The newest window (UTC day) and its HIGH-severity columns."""
    end = found.frame["window_end"].max()
    latest = found.frame[found.frame["window_end"] == end]
    high = latest[latest["severity"].astype(str).str.upper() == DriftSeverity.HIGH.value]
    day = utc_day(window_end(latest.head(1), "start")).iloc[0]
    return str(day), sorted(high["column_name"].astype(str))


@section(SPEC_ID, "Feature drift", order=40, hint="finml drift")
def drift(ctx: ExportContext) -> Section:
    """From ``drift_monitoring`` (one row per window and column) of one reference."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    found = drift_rows(ctx)
    assert found is not None  # missing() said there are rows
    frame = newest(found.frame, "window_end")
    charts = [
        _metric_chart(frame, "drift_psi", "Population stability index per feature", "psi"),
        _metric_chart(frame, "drift_js", "Jensen-Shannon distance per feature", "js"),
    ]
    latest = frame[frame["window_end"] == frame["window_end"].max()]
    latest = latest.sort_values("population_stability_index", ascending=False)
    cols = [
        "column_name",
        "population_stability_index",
        "js_distance",
        "wasserstein_distance",
        "count_current",
        "severity",
    ]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(TABLE)],
        kpis=_kpis(found, frame, latest),
        charts=charts,
        tables=[
            TableBlock(
                id="drift_latest",
                title="Latest window: severity per feature",
                columns=cols,
                rows=rows(latest, cols),
            )
        ],
        covers=_covers(found),
        notes=_notes(found),
    )


def _covers(found: DriftRows) -> list[str]:
    windows = found.frame["window_end"].nunique()
    what = f"rows ({windows} windows, {found.frame['column_name'].nunique()} columns)"
    lines = [f"{coverage(TABLE, found.frame, 'window_end', what)} (window ends)"]
    lines.append(f"reference: {found.label}")
    if found.hidden:
        lines.append(f"{found.hidden} rows of other references not shown")
    return lines


def _notes(found: DriftRows) -> list[str]:
    if found.reference is None:
        return [
            "These rows have no model reference: they come from a drift check on a simulated"
            " market or ad-hoc frames (`finml drift`, the demo's drift scenario), not from the"
            " champion's production windows (`finml monitor` over production days)."
        ]
    if found.champion:
        return ["Production windows compared with the champion's pinned training data."]
    return ["Not the current champion's reference: the newest reference with drift rows."]


def _kpis(found: DriftRows, frame: pd.DataFrame, latest: pd.DataFrame) -> list[Kpi]:
    """Reference, latest window end, its worst severity, features drifting and monitored."""
    severities = latest["severity"].fillna(DriftSeverity.NONE.value).astype(str).str.upper()
    worst = max(
        severities,
        key=lambda s: DriftSeverity(s).rank if s in _SEVERITY_STATUS else 0,
        default=DriftSeverity.NONE.value,
    )
    return [
        Kpi(
            label="Reference",
            value=found.label if found.label != NO_REFERENCE else "none",
            status="ok" if found.champion else "warn",
            detail=[] if found.label != NO_REFERENCE else [NO_REFERENCE],
        ),
        Kpi(label="Latest window end", value=scalar(latest["window_end"].iloc[0])),
        Kpi(label="Worst severity", value=worst, status=_SEVERITY_STATUS.get(worst, "info")),
        Kpi(
            label="Features drifting",
            value=int((severities != DriftSeverity.NONE).sum()),
            status="warn" if (severities != DriftSeverity.NONE).any() else "ok",
        ),
        Kpi(label="Features monitored", value=int(frame["column_name"].nunique())),
    ]


_METRICS = {
    "psi": ("population_stability_index", "PSI"),
    "js": ("js_distance", "JS distance"),
}


def _metric_chart(frame: pd.DataFrame, chart_id: str, title: str, metric: str) -> Chart:
    column, y_title = _METRICS[metric]
    series = []
    for name, g in frame.groupby("column_name", sort=True):
        x = [scalar(v) for v in g["window_end"].tolist()]
        series.append(Series(name=str(name), x=x, y=floats(g[column].tolist())))
    return Chart(
        id=chart_id,
        title=title,
        kind="line",
        series=series,
        y_title=y_title,
        x_title="window end",
        x_axis="day",
        y_range=[0.0, 1.0] if metric == "js" else None,  # JS distance (base 2) is in [0, 1]
    )
