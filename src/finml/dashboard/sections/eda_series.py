"""The EDA section's feature correlations (Pearson and Spearman heatmaps, the strongest
pairs), per-symbol stationarity (ADF and KPSS of log price and log returns, the trend) and
intraday profile (volume and volatility by hour of day), from the latest profiled rows of
``eda_profile`` (:func:`finml.dashboard.sections.eda.latest_versions`)."""

from __future__ import annotations

import json

import pandas as pd

from finml.dashboard.extract import floats, rows
from finml.dashboard.schema import Chart, ChartFilter, Series, TableBlock, TableFilter

ALPHA = 0.05
PAIRS = 15
SERIES = ("log_price", "log_return")


def correlations(latest: pd.DataFrame, charts: list, tables: list) -> None:
    """Heatmaps of the Pearson and Spearman matrices (each profiled table that has them) and
    the strongest pairs by |Pearson|."""
    found = latest[latest["statistic"].isin(["pearson", "spearman"])]
    for table_name, group in found.groupby("table_name", sort=True):
        columns = list(dict.fromkeys([*group["column_name"], *group["other_column"]]))
        for statistic in ("pearson", "spearman"):
            pairs = group[group["statistic"] == statistic]
            if len(pairs):
                charts.append(_heatmap(str(table_name), statistic, pairs, columns))
        wide = group.pivot_table(
            index=["column_name", "other_column"], columns="statistic", values="value"
        ).reset_index()
        wide = wide.reindex(columns=["column_name", "other_column", "pearson", "spearman"])
        wide = wide.assign(strength=wide["pearson"].abs()).sort_values("strength", ascending=False)
        cols = ["column_name", "other_column", "pearson", "spearman"]
        tables.append(
            TableBlock(
                id=f"eda_pairs_{table_name}",
                title=f"{table_name}: the {PAIRS} most correlated feature pairs (|Pearson|)",
                columns=cols,
                rows=rows(wide, cols, PAIRS),
            )
        )


def _heatmap(table: str, statistic: str, pairs: pd.DataFrame, columns: list[str]) -> Chart:
    """The symmetric matrix of ``statistic`` over ``columns`` (1 on the diagonal)."""
    at = {c: i for i, c in enumerate(columns)}
    z: list[list[float | None]] = [[None] * len(columns) for _ in columns]
    for i in range(len(columns)):
        z[i][i] = 1.0
    for a, b, v in zip(pairs["column_name"], pairs["other_column"], pairs["value"], strict=True):
        z[at[a]][at[b]] = z[at[b]][at[a]] = floats([v])[0]
    return Chart(
        id=f"eda_{statistic}_{table}",
        title=f"{table}: {statistic.capitalize()} correlation of the features",
        kind="heatmap",
        z=z,
        x_labels=columns,
        y_labels=columns,
        z_range=[-1.0, 1.0],
    )


def stationarity(latest: pd.DataFrame, tables: list) -> str | None:
    """Per symbol and series (log price, log returns): ADF and KPSS p-values and what they
    say together, with the trend of the log price; returns "k of n" symbols whose returns
    are stationary, or None when nothing was tested."""
    found = latest[latest["statistic"].isin(["adf_pvalue", "kpss_pvalue", "trend_per_day"])]
    if not len(found):
        return None
    wide = found.pivot_table(
        index=["symbol", "column_name"], columns="statistic", values="value", aggfunc="last"
    ).reset_index()
    wide = wide.reindex(
        columns=["symbol", "column_name", "adf_pvalue", "kpss_pvalue", "trend_per_day"]
    )
    r2 = {
        s: json.loads(d).get("r2")
        for s, d in zip(found["symbol"], found["detail"], strict=True)
        if d and "r2" in d
    }
    on_price = wide["column_name"] == "log_price"
    wide["trend_r2"] = [
        r2.get(s) if p else None for s, p in zip(wide["symbol"], on_price, strict=True)
    ]
    wide["verdict"] = [
        verdict(a, k) for a, k in zip(wide["adf_pvalue"], wide["kpss_pvalue"], strict=True)
    ]
    wide = wide.rename(columns={"column_name": "series"}).sort_values(["symbol", "series"])
    cols = ["symbol", "series", "adf_pvalue", "kpss_pvalue", "verdict", "trend_per_day", "trend_r2"]
    tables.append(
        TableBlock(
            id="eda_stationarity",
            title="Stationarity per symbol: ADF (H0 unit root) and KPSS (H0 stationary) "
            "p-values, and the log price's trend per day",
            columns=cols,
            rows=rows(wide, cols, 400),
            filter=TableFilter(symbol="symbol"),
        )
    )
    returns = wide[wide["series"] == "log_return"]
    return f"{int((returns['verdict'] == 'stationary').sum())} of {len(returns)}"


def verdict(adf: float | None, kpss: float | None) -> str:
    """Both tests at ``ALPHA``: stationary (ADF rejects a unit root, KPSS does not reject
    stationarity), unit root (the reverse), else mixed; untested without both."""
    if adf is None or kpss is None or pd.isna(adf) or pd.isna(kpss):
        return "untested"
    if adf < ALPHA and kpss >= ALPHA:
        return "stationary"
    if adf >= ALPHA and kpss < ALPHA:
        return "unit root"
    return "mixed"


def intraday(latest: pd.DataFrame, charts: list) -> None:
    """Mean bar volume and return volatility per hour of day (UTC), one line per symbol."""
    for statistic, what, unit in (
        ("intraday_volume", "mean 1-minute bar volume", "volume"),
        ("intraday_volatility", "std of 1-minute log returns", "return std"),
    ):
        found = latest[latest["statistic"] == statistic].sort_values("symbol")
        series = []
        for symbol, detail in zip(found["symbol"], found["detail"], strict=True):
            profile = json.loads(detail) if detail else {}
            hours = [f"{int(h):02d}:00" for h in profile.get("hours", [])]
            series.append(Series(name=str(symbol), x=hours, y=floats(profile.get("values", []))))
        if series:
            charts.append(
                Chart(
                    id=f"eda_{statistic}",
                    title=f"Intraday profile: {what} by hour of day (UTC)",
                    kind="line",
                    series=series,
                    x_axis="category",
                    x_title="hour of day (UTC)",
                    y_title=unit,
                    filter=ChartFilter(series_symbols=True),
                )
            )
