"""Detected anomalies: the newest trades a model flagged (``prediction == 1``) in the batch
scores (``predictions``) and the serving inference log (``inference_log``), with their
features and the model version that flagged them."""

from __future__ import annotations

import json

import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    floats,
    missing,
    rows,
    section,
    spec,
    utc_day,
)
from finml.dashboard.schema import Chart, ChartFilter, Kpi, Section, Series, TableBlock, TableFilter
from finml.training_set import feature_columns

SPEC_ID = "anomalies"
PREDICTIONS, LOG, FEATURES, IMPORTANCE = (
    "predictions",
    "inference_log",
    "trade_features",
    "feature_importance",
)
FEED_LIMIT = 50
SHOWN_FEATURES = 6
KEYS = ["ts", "symbol", "trade_id", "score", "source", "model", "model_version"]


@section(
    SPEC_ID,
    "Detected anomalies",
    order=55,
    hint="finml score (batch) or finml serve (inference log)",
)
def anomalies(ctx: ExportContext) -> Section:
    """From ``predictions`` and ``inference_log`` (the flagged rows), ``trade_features``
    (the features of the newest flagged batch rows) and ``feature_importance`` (which
    features to show first)."""
    if (state := missing(ctx, SPEC_ID, PREDICTIONS, LOG)) is not None:
        return state
    scored = _scored(ctx)
    flagged = scored[scored["prediction"] == 1]
    feed = flagged.sort_values(["ts", "trade_id"], ascending=False).head(FEED_LIMIT)
    feed, shown = _with_features(ctx, feed)
    cols = KEYS + shown
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=_kpis(scored, flagged),
        charts=[_per_day(flagged)] if len(flagged) else [],
        tables=[
            TableBlock(
                id="anomalies_feed",
                title=f"Newest flagged trades (the {FEED_LIMIT} newest) with their features",
                columns=cols,
                rows=rows(feed, cols, FEED_LIMIT),
                filter=TableFilter(date="ts", symbol="symbol"),
            )
        ],
        sources=[ctx.source(n) for n in (PREDICTIONS, LOG, FEATURES)],
        covers=[
            coverage(PREDICTIONS, ctx.frame(PREDICTIONS), "ts", "batch scores"),
            coverage(LOG, ctx.frame(LOG), "ts", "served scores"),
            f"flagged (prediction = 1): {len(flagged):,} of {len(scored):,} scored rows; "
            f"feed: the newest {len(feed)}",
        ],
        notes=[
            "Features: the request's logged inputs for served rows, else the trade's row "
            f"of `{FEATURES}` (joined on trade_id for the feed's rows only); the first "
            f"{SHOWN_FEATURES} features by the latest permutation importance when known."
        ],
    )


def _scored(ctx: ExportContext) -> pd.DataFrame:
    """Every scored row of both sources: keys, score, prediction, model and source."""
    parts = []
    batch = ctx.frame(PREDICTIONS)
    if batch is not None and len(batch):
        parts.append(batch.assign(source="batch", inputs=None))
    served = ctx.frame(LOG)
    if served is not None and len(served):
        variant = served["variant"].fillna("").astype(str)
        parts.append(served.assign(source=("serving " + variant).str.strip()))
    frame = pd.concat(parts, ignore_index=True)
    frame["model"] = frame["model_name"].astype(str).str.rsplit(".", n=1).str[-1]
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame[[*KEYS, "prediction", "inputs"]]


def _with_features(ctx: ExportContext, feed: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``feed`` with feature columns: a served row's logged ``inputs``, else its trade's
    row of ``trade_features``; returns the frame and the features shown."""
    logged = [json.loads(v) if isinstance(v, str) and v else {} for v in feed["inputs"]]
    features = ctx.frame(FEATURES)
    by_trade = pd.DataFrame()
    if features is not None and len(features) and (feed["source"] == "batch").any():
        wanted = set(feed["trade_id"])
        by_trade = features[features["trade_id"].isin(wanted)].drop_duplicates("trade_id")
        by_trade = by_trade.set_index("trade_id")
    names = [*feature_columns(by_trade), *sorted({k for d in logged for k in d})]
    shown = _ranked(ctx, list(dict.fromkeys(names)))[:SHOWN_FEATURES]
    values: dict[str, list] = {name: [] for name in shown}
    for trade, inputs in zip(feed["trade_id"], logged, strict=True):
        row = by_trade.loc[trade] if trade in by_trade.index else None
        for name in shown:
            if name in inputs:
                values[name].append(inputs[name])
            else:
                values[name].append(row[name] if row is not None and name in row else None)
    return feed.assign(**{n: floats(v) for n, v in values.items()}), shown


def _ranked(ctx: ExportContext, names: list[str]) -> list[str]:
    """``names`` with the newest permutation importance's features first (in rank order)."""
    importance = ctx.frame(IMPORTANCE)
    if importance is None or not len(importance):
        return names
    newest = importance[importance["trained_at"] == importance["trained_at"].max()]
    order = newest.sort_values("rank").drop_duplicates("feature")["feature"].tolist()
    return [n for n in order if n in names] + [n for n in names if n not in order]


def _kpis(scored: pd.DataFrame, flagged: pd.DataFrame) -> list[Kpi]:
    models = flagged.drop_duplicates(["model", "model_version"]).sort_values("model_version")
    rate = len(flagged) / len(scored) if len(scored) else 0.0
    return [
        Kpi(label="Flagged trades", value=len(flagged), status="warn" if len(flagged) else "ok"),
        Kpi(label="Flag rate", value=round(100 * rate, 2), unit="%"),
        Kpi(label="Latest flag", value=flagged["ts"].max().isoformat() if len(flagged) else None),
        Kpi(
            label="Flagged by",
            value=", ".join(
                f"{m} v{v}" for m, v in zip(models["model"], models["model_version"], strict=True)
            )
            or "—",
        ),
    ]


def _per_day(flagged: pd.DataFrame) -> Chart:
    frame = flagged.assign(day=utc_day(flagged["ts"]))
    days = sorted(frame["day"].unique())
    counts = frame.groupby(["source", "day"]).size()
    return Chart(
        id="anomalies_per_day",
        title="Flagged trades per day by source",
        kind="stacked_bar",
        series=[
            Series(name=str(src), x=days, y=floats([counts.get((src, d), 0) for d in days]))
            for src in sorted(frame["source"].unique())
        ],
        x_axis="day",
        x_title="day (UTC)",
        y_title="flagged trades",
        filter=ChartFilter(x_dates=True),
    )
