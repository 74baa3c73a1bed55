"""Model metrics: precision, recall and F1 per monitoring window (``model_monitoring``), the
champion's holdout PR curve (``pr_curves``) and the permutation feature importance per
registered model version (``feature_importance``), the last two written by ``finml train``.
Per-anomaly-kind recall is in the Models section."""

from __future__ import annotations

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    spec,
    utc_day,
    window_end,
)
from finml.dashboard.schema import Chart, ChartFilter, Kpi, Section, Series, TableBlock, TableFilter

SPEC_ID = "model_metrics"
MONITORING, CURVES, IMPORTANCE = "model_monitoring", "pr_curves", "feature_importance"
LEADERBOARD = "model_leaderboard"
METRICS = ("precision", "recall", "f1")
TOP_FEATURES = 5


@section(SPEC_ID, "Model metrics", order=62, hint="finml train && finml monitor")
def model_metrics(ctx: ExportContext) -> Section:
    """From ``model_monitoring``, ``pr_curves``, ``feature_importance`` (and
    ``model_leaderboard`` / the MLflow registry to name the champion's candidate)."""
    if (state := missing(ctx, SPEC_ID, MONITORING, CURVES, IMPORTANCE)) is not None:
        return state
    kpis: list[Kpi] = []
    charts: list[Chart] = []
    tables: list[TableBlock] = []
    notes: list[str] = []
    _windows(ctx, kpis, charts, tables)
    chosen = _champion_tournament(ctx)
    _pr_curve(ctx, chosen, kpis, charts)
    _importance(ctx, chosen, charts, tables)
    for name in (CURVES, IMPORTANCE):
        if ctx.frame(name) is None:
            notes.append(f"`{name}` does not exist yet: it is written by `finml train`.")
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        notes=notes,
        sources=[ctx.source(n) for n in (MONITORING, CURVES, IMPORTANCE)],
        covers=[
            coverage(MONITORING, _with_start(ctx.frame(MONITORING)), "window_start", "windows"),
            coverage(CURVES, ctx.frame(CURVES), "trained_at", "curve points"),
            coverage(IMPORTANCE, ctx.frame(IMPORTANCE), "trained_at", "importances"),
            f"PR curve and importance of: {chosen[2]}" if chosen else "no tournament yet",
        ],
    )


def _with_start(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.assign(window_start=window_end(frame, "start"))


def _windows(ctx: ExportContext, kpis: list, charts: list, tables: list) -> None:
    """Precision / recall / F1 per window and model version (lines), and the windows table."""
    frame = _with_start(ctx.frame(MONITORING))
    if frame is None or not len(frame):
        return
    frame = newest(frame, "window_start").assign(window=lambda f: utc_day(f["window_start"]))
    versions = sorted(frame["model_version"].astype(str).unique())
    series = []
    for version, group in frame.groupby(frame["model_version"].astype(str), sort=True):
        for metric in METRICS:
            name = metric if len(versions) == 1 else f"{metric} v{version}"
            values = group[metric] if metric in group else pd.Series([None] * len(group))
            series.append(Series(name=name, x=group["window"].tolist(), y=floats(values.tolist())))
    charts.append(
        Chart(
            id="metrics_windows",
            title="Precision, recall and F1 per monitoring window (labelled rows)",
            kind="line",
            series=series,
            x_axis="day",
            y_range=[0.0, 1.0],
            filter=ChartFilter(x_dates=True),
        )
    )
    latest = frame.iloc[-1]
    for metric in METRICS:
        value = latest.get(metric)
        kpis.append(
            Kpi(label=f"Latest {metric}", value=None if pd.isna(value) else round(float(value), 4))
        )
    cols = [
        "window",
        "model_version",
        "source",
        "count",
        "labelled_count",
        "positive_count",
        "predicted_positive_count",
        "precision",
        "recall",
        "f1",
        "pr_auc",
    ]
    tables.append(
        TableBlock(
            id="metrics_windows_table",
            title="Monitoring windows, newest first",
            columns=cols,
            rows=rows(frame.sort_values("window_start", ascending=False), cols),
            filter=TableFilter(date="window"),
        )
    )


def _champion_tournament(ctx: ExportContext) -> tuple[str, str | None, str] | None:
    """(tournament_id, winning candidate, label) of the champion's tournament: the one that
    registered the ``@champion`` version, else the latest; None without tournaments."""
    stamped = [f for f in (ctx.frame(CURVES), ctx.frame(IMPORTANCE)) if f is not None and len(f)]
    if not stamped:
        return None
    stamps = ["tournament_id", "trained_at", "model_name", "registered_version"]
    runs = pd.concat([f[stamps] for f in stamped]).drop_duplicates("tournament_id")
    versions = ctx.model_versions("anomaly_model") or []
    champion = next((v for v in versions if "champion" in v.aliases), None)
    mine = (
        runs[runs["registered_version"].astype(str) == str(champion.version)]
        if champion
        else runs.head(0)
    )
    role = "champion" if len(mine) else "latest"
    run = (mine if len(mine) else runs).sort_values("trained_at").iloc[-1]
    winner = _winner(ctx, str(run["tournament_id"]), str(run["registered_version"]), versions)
    what = winner or "every candidate"
    label = f"{role} v{run['registered_version']} ({what}, tournament {run['tournament_id']})"
    return str(run["tournament_id"]), winner, label


def _winner(ctx: ExportContext, tournament: str, version: str, versions: list) -> str | None:
    """The tournament's rank-1 candidate (leaderboard), else the registered version's
    ``finml.candidate`` tag."""
    board = ctx.frame(LEADERBOARD)
    if board is not None and len(board) and "tournament_id" in board:
        top = board[board["tournament_id"] == tournament].sort_values("rank")
        if len(top):
            return str(top["candidate"].iloc[0])
    tagged = next((v for v in versions if str(v.version) == version), None)
    return tagged.tags.get("finml.candidate") if tagged else None


def _of(frame: pd.DataFrame | None, chosen: tuple | None) -> pd.DataFrame:
    """``frame``'s rows of the chosen tournament and (when known and present) its winner."""
    if frame is None or chosen is None:
        return pd.DataFrame()
    rows_ = frame[frame["tournament_id"] == chosen[0]]
    if chosen[1] is not None and (rows_["candidate"] == chosen[1]).any():
        rows_ = rows_[rows_["candidate"] == chosen[1]]
    return rows_


def _pr_curve(ctx: ExportContext, chosen: tuple | None, kpis: list, charts: list) -> None:
    curve = _of(ctx.frame(CURVES), chosen)
    if not len(curve):
        return
    series = [_curve(str(c), g) for c, g in curve.groupby("candidate", sort=True)]
    charts.append(
        Chart(
            id="metrics_pr_curve",
            title=f"Holdout PR curve: {chosen[2] if chosen else ''}",
            kind="line",
            series=series,
            x_title="recall",
            y_title="precision",
            x_range=[0.0, 1.0],
            y_range=[0.0, 1.0],
        )
    )
    kpis.append(Kpi(label="PR curve points", value=len(curve)))


def _curve(candidate: str, points: pd.DataFrame) -> Series:
    """One candidate's curve by recall, each point's threshold as hover text."""
    points = points.sort_values(["recall", "precision"])
    return Series(
        name=candidate,
        x=floats(points["recall"].tolist()),
        y=floats(points["precision"].tolist()),
        text=[f"threshold {t:.4g}" for t in points["threshold"]],
    )


def _importance(ctx: ExportContext, chosen: tuple | None, charts: list, tables: list) -> None:
    """The chosen version's importances as sorted horizontal bars; the top features of
    every registered version in a table."""
    frame = ctx.frame(IMPORTANCE)
    shown = _of(frame, chosen)
    if not len(shown) or frame is None:
        return
    shown = shown.sort_values("rank")
    charts.append(
        Chart(
            id="metrics_feature_importance",
            title="Permutation importance (mean drop of holdout PR-AUC): "
            + (chosen[2] if chosen else ""),
            kind="bar",
            series=[
                Series(
                    name="importance",
                    x=shown["feature"].astype(str).tolist(),
                    y=floats(shown["importance"].tolist()),
                    text=[f"± {s:.3g}" if pd.notna(s) else None for s in shown["importance_std"]],
                )
            ],
            horizontal=True,
            y_title="drop of PR-AUC",
        )
    )
    per_version = []
    for (tournament, candidate), group in frame.groupby(["tournament_id", "candidate"], sort=False):
        top = group.sort_values("rank").head(TOP_FEATURES)
        named = zip(top["feature"], top["importance"], strict=True)
        per_version.append(
            {
                "model_name": group["model_name"].iloc[0],
                "registered_version": group["registered_version"].iloc[0],
                "candidate": candidate,
                "trained_at": group["trained_at"].max(),
                "tournament_id": tournament,
                "top_features": ", ".join(f"{f} ({v:.3g})" for f, v in named),
            }
        )
    table = pd.DataFrame(per_version).sort_values(
        ["trained_at", "candidate"], ascending=[False, True]
    )
    cols = [
        "model_name",
        "registered_version",
        "candidate",
        "trained_at",
        "tournament_id",
        "top_features",
    ]
    tables.append(
        TableBlock(
            id="metrics_importance_versions",
            title=f"Feature importance per model version: the top {TOP_FEATURES} features",
            columns=cols,
            rows=rows(table, cols),
        )
    )
