"""Loop timeline: per window (UTC day) the rows scored, the worst drift severity, the
retraining decision, the champion version and its live PR-AUC, with promotions, manual
promotions, rollbacks and retraining triggers marked on the charts."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from finml.dashboard.extract import (
    MAX_POINTS,
    ExportContext,
    floats,
    missing,
    rows,
    scalar,
    section,
    spec,
    utc_day,
    window_end,
)
from finml.dashboard.schema import Chart, Event, Kpi, Section, Series, Status, TableBlock
from finml.dashboard.sections.drift import drift_rows
from finml.vocabulary import DriftSeverity, GateDecision, RetrainDecision

SPEC_ID = "timeline"
PREDICTIONS, PERF, DRIFT = "predictions", "model_monitoring", "drift_monitoring"
RETRAIN, GATE, ROLLBACK = "retraining_audit", "champion_challenger_audit", "rollback_audit"
TABLES = (PREDICTIONS, PERF, DRIFT, RETRAIN, GATE, ROLLBACK)
SEVERITIES = tuple(level.value for level in DriftSeverity)  # in rank order
_STATUS: dict[str, Status] = {
    DriftSeverity.NONE: "ok",
    DriftSeverity.MEDIUM: "warn",
    DriftSeverity.HIGH: "bad",
}
# gate decisions that moved @champion
_PROMOTIONS = {
    GateDecision.PROMOTE.value: "promotion",
    GateDecision.MANUAL_PROMOTE.value: "manual_promotion",
}
COLUMNS = [
    "window",
    "rows_scored",
    "drift_severity",
    "retrain_decision",
    "retrain_reason",
    "champion",
    "versions_scored",
    "pr_auc",
    "events",
]


@section(SPEC_ID, "Loop timeline", order=15, hint="finml replay --days 30 --drift-day 15")
def timeline(ctx: ExportContext) -> Section:
    """From ``predictions``, ``model_monitoring``, ``drift_monitoring``, ``retraining_audit``,
    ``champion_challenger_audit`` and ``rollback_audit`` (any may be missing)."""
    if (state := missing(ctx, SPEC_ID, *TABLES)) is not None:
        return state
    frames = {name: _rows_of(ctx.frame(name)) for name in TABLES}
    if (drifting := drift_rows(ctx)) is not None:  # one reference's rows, as the drift section
        frames[DRIFT] = drifting.frame
    events = loop_events(frames[GATE], frames[ROLLBACK], frames[RETRAIN])
    table = timeline_frame(
        frames[PREDICTIONS], frames[PERF], frames[DRIFT], frames[RETRAIN], events
    )
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        sources=[ctx.source(n) for n in TABLES],
        kpis=_kpis(table, events),
        charts=_charts(table, frames[PERF], events),
        tables=[
            TableBlock(
                id="timeline_windows",
                title="Per window (UTC day), newest first",
                columns=COLUMNS,
                rows=rows(table.iloc[::-1], COLUMNS, MAX_POINTS),
            )
        ],
        covers=[
            f"{len(table)} windows (UTC days), {table['window'].iloc[0]} → "
            f"{table['window'].iloc[-1]}, joined from "
            + ", ".join(f"{n} ({len(f):,} rows)" for n, f in frames.items() if f is not None)
        ],
    )


def loop_events(
    gate: pd.DataFrame | None, rollback: pd.DataFrame | None, retrain: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per event (``at``, ``window``, ``kind``, ``version``, ``label``), by time:
    promotions and manual promotions (gate), rollbacks, retraining triggers."""
    parts = []
    if gate is not None:
        moved = gate[gate["decision"].isin(list(_PROMOTIONS))]
        kind = moved["decision"].map(_PROMOTIONS)
        label = "v" + moved["challenger_version"].astype(str)
        label += kind.map({"promotion": " promoted", "manual_promotion": " manual promotion"})
        parts.append(_events(moved["decided_at"], kind, moved["challenger_version"], label))
    if rollback is not None:
        label = "rollback v" + rollback["from_version"].astype(str)
        label += " -> v" + rollback["to_version"].astype(str)
        parts.append(_events(rollback["rolled_back_at"], "rollback", rollback["to_version"], label))
    if retrain is not None:
        fired = retrain[retrain["decision"] == RetrainDecision.TRIGGER]
        label = "retrain: " + fired["reason"].fillna("").astype(str).str.slice(0, 60)
        parts.append(_events(fired["decided_at"], "retrain", None, label))
    if not parts:
        return _events(pd.Series([], dtype="datetime64[us, UTC]"), "retrain", None, "")
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("at", kind="stable").reset_index(drop=True)


def timeline_frame(
    predictions: pd.DataFrame | None,
    perf: pd.DataFrame | None,
    drift: pd.DataFrame | None,
    retrain: pd.DataFrame | None,
    events: pd.DataFrame,
) -> pd.DataFrame:
    """One row per window (UTC day, oldest first, the newest ``MAX_POINTS``) with
    :data:`COLUMNS`; a table that is missing leaves its columns null."""
    perf = _perf(perf)
    scored = _scored(predictions, perf)
    worst = _worst_drift(drift)
    decisions = _decisions(retrain)
    days = set(scored.index) | set(worst.index) | set(decisions.index) | set(events["window"])
    days |= set(perf["window"]) if perf is not None else set()
    out = pd.DataFrame({"window": sorted(days)[-MAX_POINTS:]})
    out["rows_scored"] = [_int(scored.get(day)) for day in out["window"]]
    out["drift_severity"] = out["window"].map(worst)
    out["retrain_decision"] = out["window"].map(decisions["decision"])
    out["retrain_reason"] = out["window"].map(decisions["reason"])
    out["champion"] = [_champion(day, events, perf) for day in out["window"]]
    out["versions_scored"] = [_versions(day, perf, predictions) for day in out["window"]]
    out["pr_auc"] = [_pr_auc(day, champ, perf) for day, champ in zip(*_pairs(out), strict=True)]
    labels = events.groupby("window")["label"].agg("; ".join)
    out["events"] = out["window"].map(labels)
    return out


def _rows_of(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return frame if frame is not None and len(frame) else None


def _events(at, kind, version, label) -> pd.DataFrame:
    at = pd.to_datetime(pd.Series(at), utc=True).reset_index(drop=True)
    frame = pd.DataFrame({"at": at, "window": utc_day(at)})
    frame["kind"] = kind.to_numpy() if isinstance(kind, pd.Series) else kind
    frame["version"] = version.astype(str).to_numpy() if version is not None else None
    frame["label"] = label.to_numpy() if isinstance(label, pd.Series) else label
    return frame


def _perf(perf: pd.DataFrame | None) -> pd.DataFrame | None:
    if perf is None:
        return None
    return perf.assign(
        window=utc_day(window_end(perf, "start")), model_version=perf["model_version"].astype(str)
    )


def _scored(predictions: pd.DataFrame | None, perf: pd.DataFrame | None) -> pd.Series:
    """Distinct trades scored per window (of ``ts``); ``model_monitoring`` counts without
    ``predictions``."""
    if predictions is not None:
        return predictions.groupby(utc_day(predictions["ts"]))["trade_id"].nunique()
    if perf is not None:
        return perf.groupby("window")["count"].max()
    return pd.Series(dtype="int64")


def _worst_drift(drift: pd.DataFrame | None) -> pd.Series:
    if drift is None:
        return pd.Series(dtype="object")
    severity = drift["severity"].fillna(DriftSeverity.NONE.value).astype(str).str.upper()
    rank = severity.map({s: i for i, s in enumerate(SEVERITIES)}).fillna(0)
    day = utc_day(window_end(drift, "start"))
    return rank.groupby(day).max().astype(int).map(dict(enumerate(SEVERITIES)))


def _decisions(retrain: pd.DataFrame | None) -> pd.DataFrame:
    """Per window the decision shown: its last trigger, else its last decision."""
    if retrain is None:
        return pd.DataFrame(columns=["decision", "reason"])
    frame = retrain.assign(window=utc_day(retrain["decided_at"]))
    frame = frame.assign(_fired=frame["decision"] == RetrainDecision.TRIGGER)
    frame = frame.sort_values(["window", "_fired", "decided_at"], kind="stable")
    return frame.groupby("window")[["decision", "reason"]].last()


def _champion(day: str, events: pd.DataFrame, perf: pd.DataFrame | None) -> str | None:
    """The version holding @champion at the window's end (the last promotion or rollback
    before it); before any such event, the version that scored most of the window."""
    end = pd.Timestamp(day, tz="UTC") + timedelta(days=1)
    moved = events[(events["kind"] != "retrain") & (events["at"] < end)]
    if len(moved):
        return str(moved["version"].iloc[-1])
    if perf is not None and len(mine := perf[perf["window"] == day]):
        return str(mine.sort_values("count", kind="stable")["model_version"].iloc[-1])
    return None


def _versions(day: str, perf: pd.DataFrame | None, predictions: pd.DataFrame | None) -> str | None:
    if perf is not None:
        found = perf.loc[perf["window"] == day, "model_version"]
    elif predictions is not None:
        found = predictions.loc[utc_day(predictions["ts"]) == day, "model_version"].astype(str)
    else:
        return None
    return ", ".join(sorted(set(found), key=_version_order)) or None


def _pr_auc(day: str, champion: str | None, perf: pd.DataFrame | None) -> float | None:
    """The champion's PR-AUC in the window, else that of the version with most labels."""
    if perf is None or not len(mine := perf[perf["window"] == day]):
        return None
    own = mine[mine["model_version"] == champion]
    pick = own if len(own) else mine.sort_values("labelled_count", kind="stable").tail(1)
    return scalar(pick["pr_auc"].iloc[-1])  # type: ignore[return-value]


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _pairs(frame: pd.DataFrame) -> tuple[list, list]:
    return frame["window"].tolist(), frame["champion"].tolist()


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (10**9, version)


def _chart_events(events: pd.DataFrame, kinds: set[str], first: str) -> list[Event]:
    shown = events[events["kind"].isin(kinds) & (events["window"] >= first)]
    return [
        Event(x=scalar(at), label=str(label), kind=kind)
        for at, label, kind in zip(shown["at"], shown["label"], shown["kind"], strict=True)
    ]


def _charts(table: pd.DataFrame, perf: pd.DataFrame | None, events: pd.DataFrame) -> list[Chart]:
    charts = []
    first, days = table["window"].iloc[0], table["window"].tolist()
    moves = _chart_events(events, {"promotion", "manual_promotion", "rollback"}, first)
    perf = _perf(perf)
    if perf is not None and perf["pr_auc"].notna().any():
        perf = perf[perf["window"] >= first].sort_values("window", kind="stable")
        series = [
            Series(name=f"v{v}", x=g["window"].tolist(), y=floats(g["pr_auc"].tolist()))
            for v, g in sorted(perf.groupby("model_version"), key=lambda p: _version_order(p[0]))
        ]
        charts.append(
            Chart(
                id="timeline_pr_auc",
                title="Live PR-AUC per window by model version; promotions and rollbacks",
                kind="line",
                series=series,
                events=moves,
                x_title="window (UTC day)",
                y_title="PR-AUC",
                x_axis="day",
                y_range=[0.0, 1.0],
            )
        )
    if table["drift_severity"].notna().any():
        level = table["drift_severity"].map({s: i for i, s in enumerate(SEVERITIES)})
        charts.append(
            Chart(
                id="timeline_drift",
                title="Worst drift severity per window; retraining triggers",
                kind="step",
                series=[Series(name="worst drift severity", x=days, y=floats(level.tolist()))],
                y_labels=list(SEVERITIES),
                events=_chart_events(events, {"retrain"}, first),
                x_title="window (UTC day)",
                x_axis="day",
            )
        )
    if any(v is not None for v in table["rows_scored"]):
        rows_y = floats(table["rows_scored"].tolist())
        charts.append(
            Chart(
                id="timeline_rows",
                title="Rows scored per window",
                kind="bar",
                series=[Series(name="rows scored", x=days, y=rows_y)],
                events=moves,
                y_title="rows",
                x_title="window (UTC day)",
                x_axis="day",
            )
        )
    return charts


def _kpis(table: pd.DataFrame, events: pd.DataFrame) -> list[Kpi]:
    latest = table.iloc[-1]
    severity = latest["drift_severity"]
    champion = latest["champion"]
    kinds = events["kind"].value_counts()
    return [
        Kpi(label="Windows", value=len(table)),
        Kpi(label="Champion (latest window)", value=f"v{champion}" if champion else None),
        Kpi(
            label="Drift (latest window)",
            value=severity if isinstance(severity, str) else None,
            status=_STATUS.get(severity, "info") if isinstance(severity, str) else "info",
        ),
        Kpi(label="Live PR-AUC (latest window)", value=scalar(latest["pr_auc"])),
        Kpi(label="Retrains triggered", value=int(kinds.get("retrain", 0))),
        Kpi(
            label="Promotions",
            value=int(kinds.get("promotion", 0) + kinds.get("manual_promotion", 0)),
        ),
        Kpi(
            label="Rollbacks",
            value=int(kinds.get("rollback", 0)),
            status="warn" if kinds.get("rollback", 0) else "ok",
        ),
    ]
