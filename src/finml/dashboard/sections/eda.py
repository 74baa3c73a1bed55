"""Exploratory analysis (``eda_profile``, written by ``finml eda``): per layer, for the latest
profiled version of each table, the tables profiled, missingness (missing fraction per column,
the most frequent co-missing patterns), IQR and z-score outliers; the feature correlations,
the per-symbol stationarity and the intraday profile come from :mod:`.eda_series`."""

from __future__ import annotations

import json

import pandas as pd

from finml.dashboard.extract import ExportContext, coverage, floats, missing, rows, section, spec
from finml.dashboard.schema import Chart, Kpi, Section, Series, TableBlock
from finml.dashboard.sections.eda_series import correlations, intraday, stationarity

SPEC_ID = "eda"
TABLE = "eda_profile"
LAYERS = ("bronze", "silver", "gold", "features")
PER_LAYER = 10  # columns shown per layer in the missingness and outlier tables
PATTERNS = 10


@section(SPEC_ID, "Exploratory analysis", order=35, hint="finml eda")
def eda(ctx: ExportContext) -> Section:
    """From ``eda_profile``: the latest profiled version of each table."""
    if (state := missing(ctx, SPEC_ID, TABLE)) is not None:
        return state
    full = ctx.require(TABLE)
    latest = latest_versions(full)
    charts: list[Chart] = []
    tables = [_profiled(latest)]
    missing_cols = _missing(latest, charts, tables)
    outlier_cols = _outliers(latest, tables)
    correlations(latest, charts, tables)
    stationary = stationarity(latest, tables)
    intraday(latest, charts)
    versions = latest[["layer", "table_name"]].drop_duplicates()
    kpis = [
        Kpi(label="Tables profiled", value=len(versions)),
        Kpi(label="Layers", value=", ".join(_layer_order(versions["layer"].unique()))),
        Kpi(label="Columns with missing values", value=missing_cols),
        Kpi(label="Columns with IQR outliers", value=outlier_cols),
    ]
    if stationary is not None:
        kpis.append(Kpi(label="Symbols with stationary returns", value=stationary))
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=[ctx.source(TABLE)],
        covers=[
            coverage(TABLE, full, "profiled_at", "statistics"),
            f"shown: the latest profiled version of {len(versions)} tables "
            f"({len(latest):,} statistics)",
        ],
        notes=[
            "Missingness and outliers: the top columns per layer; NaN counts as missing, "
            "±Infinity as neither. Stationarity: ADF (H0: unit root) and KPSS (H0: stationary) "
            "at 5 %; `finml eda` profiles each table version once (docs/eda.md)."
        ],
    )


def latest_versions(full: pd.DataFrame) -> pd.DataFrame:
    """The rows of each (layer, table)'s latest profiled version (its newest profiling)."""
    top = full.groupby(["layer", "table_name"])["table_version"].transform("max")
    frame = full[full["table_version"] == top]
    newest = frame.groupby(["layer", "table_name"])["profiled_at"].transform("max")
    return frame[frame["profiled_at"] == newest]


def _layer_order(layers) -> list[str]:
    return sorted(layers, key=lambda x: (LAYERS.index(x) if x in LAYERS else len(LAYERS), x))


def _by_layer(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """``frame`` in layer order, each layer's rows by ``value`` descending, top PER_LAYER."""
    parts = [
        frame[frame["layer"] == layer].sort_values([value, "table_name"], ascending=[False, True])
        for layer in _layer_order(frame["layer"].unique())
    ]
    return pd.concat([p.head(PER_LAYER) for p in parts]) if parts else frame


def _stat(latest: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Per (layer, table, column): ``statistic``'s value."""
    found = latest[latest["statistic"] == statistic]
    keys = ["layer", "table_name", "column_name"]
    return found[[*keys, "value"]].rename(columns={"value": statistic})


def _profiled(latest: pd.DataFrame) -> TableBlock:
    keys = ["layer", "table_name", "table_version", "profiled_at"]
    tables = latest[keys].drop_duplicates()
    counts = latest[latest["statistic"] == "rows"].groupby(["layer", "table_name"])["value"]
    columns = latest[latest["statistic"] == "type"].groupby(["layer", "table_name"]).size()
    tables = tables.assign(
        rows=[counts.max().get((r.layer, r.table_name)) for r in tables.itertuples()],
        columns=[int(columns.get((r.layer, r.table_name), 0)) for r in tables.itertuples()],
        order=[LAYERS.index(x) if x in LAYERS else len(LAYERS) for x in tables["layer"]],
    ).sort_values(["order", "table_name"])
    cols = ["layer", "table_name", "table_version", "rows", "columns", "profiled_at"]
    return TableBlock(
        id="eda_tables",
        title="Tables profiled (latest version)",
        columns=cols,
        rows=rows(tables, cols),
    )


def _missing(latest: pd.DataFrame, charts: list, tables: list) -> int:
    """Columns with missing values: a table per layer and bars of the worst; the co-missing
    patterns; returns how many columns have any."""
    frame = _stat(latest, "missing_fraction").merge(
        _stat(latest, "missing"), on=["layer", "table_name", "column_name"], how="left"
    )
    frame = frame[frame["missing"].fillna(0) > 0]
    shown = _by_layer(frame, "missing_fraction")
    cols = ["layer", "table_name", "column_name", "missing", "missing_fraction"]
    tables.append(
        TableBlock(
            id="eda_missing",
            title=f"Missing values: the top {PER_LAYER} columns per layer",
            columns=cols,
            rows=rows(shown, cols),
        )
    )
    if len(frame):
        worst = frame.sort_values("missing_fraction", ascending=False).head(20)
        labels = [
            f"{t}.{c}" for t, c in zip(worst["table_name"], worst["column_name"], strict=True)
        ]
        charts.append(
            Chart(
                id="eda_missing_fraction",
                title="Missing fraction: the 20 worst columns",
                kind="bar",
                series=[
                    Series(name="missing", x=labels, y=floats(worst["missing_fraction"].tolist()))
                ],
                horizontal=True,
                y_title="fraction of rows missing",
                y_range=[0.0, 1.0],
            )
        )
    tables.append(_patterns(latest))
    return len(frame)


def _patterns(latest: pd.DataFrame) -> TableBlock:
    """The most frequent co-missing patterns (rows with exactly this set missing)."""
    found = latest[latest["statistic"] == "missing_pattern"].copy()
    rows_of = latest[latest["statistic"] == "rows"].set_index(["layer", "table_name"])["value"]
    found["missing_columns"] = [
        ", ".join(json.loads(d).get("missing", [])) for d in found["detail"]
    ]
    found = found[found["missing_columns"] != ""]
    found["share"] = [
        v / rows_of.get((layer, t), float("nan")) if rows_of.get((layer, t)) else None
        for v, layer, t in zip(found["value"], found["layer"], found["table_name"], strict=True)
    ]
    found = found.rename(columns={"value": "rows"}).sort_values("rows", ascending=False)
    cols = ["layer", "table_name", "missing_columns", "rows", "share"]
    return TableBlock(
        id="eda_patterns",
        title=f"Co-missing patterns: the {PATTERNS} most frequent (rows missing exactly these)",
        columns=cols,
        rows=rows(found, cols, PATTERNS),
    )


def _outliers(latest: pd.DataFrame, tables: list) -> int:
    """IQR and z-score outlier counts per column (top per layer by IQR outliers); returns
    how many columns have IQR outliers."""
    keys = ["layer", "table_name", "column_name"]
    frame = _stat(latest, "outliers_iqr").merge(_stat(latest, "outliers_zscore"), on=keys)
    rows_of = latest[latest["statistic"] == "rows"].groupby(["layer", "table_name"])["value"].max()
    frame["iqr_share"] = [
        v / rows_of[(layer, t)] if rows_of.get((layer, t)) else None
        for v, layer, t in zip(
            frame["outliers_iqr"], frame["layer"], frame["table_name"], strict=True
        )
    ]
    flagged = frame[(frame["outliers_iqr"] > 0) | (frame["outliers_zscore"] > 0)]
    cols = [*keys, "outliers_iqr", "outliers_zscore", "iqr_share"]
    tables.append(
        TableBlock(
            id="eda_outliers",
            title=f"Outliers (Tukey fences, |z| above the threshold): the top {PER_LAYER} "
            "columns per layer",
            columns=cols,
            rows=rows(_by_layer(flagged, "outliers_iqr"), cols),
        )
    )
    return int((frame["outliers_iqr"] > 0).sum())
