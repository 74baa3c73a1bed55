"""Models: tournament leaderboard, champion history, promotions, rejections, rollbacks."""

from __future__ import annotations

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    column,
    coverage,
    floats,
    missing,
    newest,
    rows,
    section,
    series_by,
    spec,
    window_end,
)
from finml.dashboard.schema import Chart, Kpi, Section, Series, Source, TableBlock
from finml.vocabulary import GateDecision

SPEC_ID = "models"
LEADERBOARD, GATE, ROLLBACK = "model_leaderboard", "champion_challenger_audit", "rollback_audit"
KINDS = "anomaly_kind_quality"
MEMBERS = "ensemble_member_monitoring"


@section(SPEC_ID, "Models", order=60, hint="finml train && finml promote")
def models(ctx: ExportContext) -> Section:
    """From ``model_leaderboard``, ``champion_challenger_audit``, ``rollback_audit`` and the
    MLflow registry (versions and aliases of ``anomaly_model``)."""
    versions = ctx.model_versions("anomaly_model") or []
    if not versions and (state := missing(ctx, SPEC_ID, LEADERBOARD, GATE, ROLLBACK)):
        return state
    kpis: list[Kpi] = []
    charts: list[Chart] = []
    tables: list[TableBlock] = []
    _leaderboard(ctx, charts, tables)
    _kinds(ctx, charts, tables)
    _members(ctx, charts, tables)
    _gate(ctx, kpis, charts, tables)
    rollbacks = ctx.frame(ROLLBACK)
    if rollbacks is not None and len(rollbacks):
        kpis.append(Kpi(label="Rollbacks", value=len(rollbacks), status="warn"))
        cols = ["rolled_back_at", "from_version", "to_version", "decision", "reason"]
        tables.append(
            TableBlock(
                id="models_rollbacks",
                title="Rollbacks",
                columns=cols,
                rows=rows(rollbacks.sort_values("rolled_back_at", ascending=False), cols),
            )
        )
    if versions:
        tables.append(_registry(versions))
    sources = [ctx.source(n) for n in (LEADERBOARD, KINDS, MEMBERS, GATE, ROLLBACK)]
    sources.append(Source(name="mlflow: anomaly_model", exists=bool(versions), rows=len(versions)))
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=sources,
        covers=[
            coverage(LEADERBOARD, ctx.frame(LEADERBOARD), "trained_at", "candidate results")
            + " (charts: the latest tournament)",
            coverage(KINDS, ctx.frame(KINDS), "trained_at", "per-kind results"),
            coverage(MEMBERS, _with_start(ctx.frame(MEMBERS)), "window_start", "member windows"),
            coverage(GATE, ctx.frame(GATE), "decided_at", "gate decisions"),
            coverage(ROLLBACK, ctx.frame(ROLLBACK), "rolled_back_at", "rollbacks"),
            f"MLflow anomaly_model: {len(versions)} registered versions",
        ],
    )


def _registry(versions: list) -> TableBlock:
    return TableBlock(
        id="models_registry",
        title="Registered versions (MLflow)",
        columns=["version", "aliases", "candidate", "holdout PR-AUC"],
        rows=[
            [
                v.version,
                ", ".join(v.aliases),
                v.tags.get("finml.candidate"),
                v.tags.get("finml.metric.pr_auc"),
            ]
            for v in versions
        ],
    )


def _leaderboard(ctx: ExportContext, charts: list, tables: list) -> None:
    board = ctx.frame(LEADERBOARD)
    if board is None or not len(board):
        return
    latest = board[board["trained_at"] == board["trained_at"].max()].sort_values("rank")
    metric = "holdout_pr_auc" if "holdout_pr_auc" in latest else None
    if metric:
        series = [
            Series(
                name="holdout PR-AUC",
                x=column(latest, "candidate"),
                y=floats(latest[metric].tolist()),
            )
        ]
        if "cv_pr_auc" in latest:
            series.append(
                Series(
                    name="walk-forward PR-AUC",
                    x=column(latest, "candidate"),
                    y=floats(latest["cv_pr_auc"].tolist()),
                )
            )
        charts.append(
            Chart(
                id="models_leaderboard",
                title="Latest tournament: PR-AUC by candidate",
                kind="bar",
                series=series,
                y_title="PR-AUC",
                x_axis="category",
                y_range=[0.0, 1.0],
            )
        )
    wanted = [
        "rank",
        "candidate",
        "is_baseline",
        "holdout_pr_auc",
        "cv_pr_auc",
        "holdout_roc_auc",
        "threshold",
        "fit_seconds",
        "registered_version",
    ]
    cols = [c for c in wanted if c in latest]
    tables.append(
        TableBlock(
            id="models_leaderboard_table",
            title="Tournament leaderboard",
            columns=cols,
            rows=rows(latest, cols),
        )
    )


def _kinds(ctx: ExportContext, charts: list, tables: list) -> None:
    """The latest tournament's recall per injected anomaly kind and candidate (simulated
    data: ``anomaly_kind_quality``), as grouped bars and a table with precision and PR-AUC."""
    quality = ctx.frame(KINDS)
    if quality is None or not len(quality):
        return
    latest = quality[quality["trained_at"] == quality["trained_at"].max()]
    kinds = sorted(latest["anomaly_type"].unique())
    candidates = list(dict.fromkeys(latest["candidate"]))  # tournament rank order
    recall = latest.pivot(index="candidate", columns="anomaly_type", values="recall")
    charts.append(
        Chart(
            id="models_kind_recall",
            title="Latest tournament: recall by anomaly kind",
            kind="bar",
            series=[
                Series(name=c, x=kinds, y=floats(recall.loc[c, kinds].tolist())) for c in candidates
            ],
            y_title="recall at the candidate's threshold",
            x_axis="category",
            y_range=[0.0, 1.0],
        )
    )
    cols = ["candidate", "anomaly_type", "positives", "detected", "recall", "precision", "pr_auc"]
    tables.append(
        TableBlock(
            id="models_kind_table",
            title="Anomaly kinds: recall, precision (against normal rows) and PR-AUC",
            columns=cols,
            rows=rows(latest, cols),
        )
    )


def _members(ctx: ExportContext, charts: list, tables: list) -> None:
    """The ensemble members' live weights per monitoring window (``ensemble_member_monitoring``,
    newest windows) and, for the latest window, each member's PR-AUC, edge, confidence and
    the weight it serves with."""
    frame = _with_start(ctx.frame(MEMBERS))
    if frame is None or not len(frame):
        return
    frame = newest(frame, "window_start")
    charts.append(
        Chart(
            id="models_member_weights",
            title="Ensemble members: weight implied by live performance (EWMA)",
            kind="line",
            series=series_by(frame, "member", "window_start", "live_weight"),
            y_title="live weight",
            y_range=[0.0, 1.0],
        )
    )
    latest = frame[frame["window_start"] == frame["window_start"].max()]
    cols = ["member", "model_version", "window_start", "labelled_count", "positive_count",
            "pr_auc", "edge", "edge_se", "confidence", "serving_weight", "live_weight"]  # fmt: skip
    tables.append(
        TableBlock(
            id="models_member_table",
            title="Ensemble members in the latest window: PR-AUC, edge over the members' mean "
            "(± paired standard error), confidence, serving and live weights",
            columns=cols,
            rows=rows(latest.sort_values("member"), cols),
        )
    )


def _with_start(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None else frame.assign(window_start=window_end(frame, "start"))


def _gate(ctx: ExportContext, kpis: list, charts: list, tables: list) -> None:
    gate = ctx.frame(GATE)
    if gate is None or not len(gate):
        return
    gate = gate.sort_values("decided_at")
    promoted = gate[gate["decision"] == GateDecision.PROMOTE]
    kpis.append(Kpi(label="Promotions", value=len(promoted), status="ok"))
    kpis.append(Kpi(label="Rejections", value=int((gate["decision"] == GateDecision.REJECT).sum())))
    if len(promoted):
        charts.append(_champion_history(gate, promoted))
    charts.append(_gate_metrics(gate))
    cols = [
        "decided_at",
        "challenger_version",
        "champion_version",
        "decision",
        "challenger_metric",
        "champion_metric",
        "ci_low",
        "ci_high",
        "reasons",
    ]
    tables.append(
        TableBlock(
            id="models_gate",
            title="Promotions and rejections",
            columns=cols,
            rows=rows(gate.sort_values("decided_at", ascending=False), cols),
        )
    )


def _champion_history(gate: pd.DataFrame, promoted: pd.DataFrame) -> Chart:
    """The promoted challengers' and replaced champions' metric at each promotion."""
    return Chart(
        id="models_champion_history",
        title="Champion history: metric at promotion",
        kind="line",
        series=[
            Series(
                name="promoted challenger",
                x=column(promoted, "decided_at"),
                y=floats(promoted["challenger_metric"].tolist()),
            ),
            Series(
                name="replaced champion",
                x=column(promoted, "decided_at"),
                y=floats(promoted["champion_metric"].tolist()),
            ),
        ],
        y_title=str(gate["metric"].iloc[-1]),
        y_range=[0.0, 1.0],
    )


def _gate_metrics(gate: pd.DataFrame) -> Chart:
    """Each gate decision's challenger and champion holdout metric (a first model has no
    champion: its bar stands alone), labelled ``v<challenger> <decision>``."""
    labels = [
        f"v{v} {d}" for v, d in zip(gate["challenger_version"], gate["decision"], strict=True)
    ]
    reasons = [None if pd.isna(r) else str(r) for r in gate["reasons"]]
    return Chart(
        id="models_gate_improvement",
        title="Gate decisions: challenger and champion holdout metric",
        kind="bar",
        series=[
            Series(name=name, x=labels, y=floats(gate[column].tolist()), text=reasons)
            for name, column in (
                ("challenger", "challenger_metric"),
                ("champion", "champion_metric"),
            )
        ],
        y_title=str(gate["metric"].iloc[-1]),
        x_axis="category",
        y_range=[0.0, 1.0],
    )
