"""Serving: latency p50 / p99 and throughput of the scoring endpoint (``inference_log``, one
row per scored record, the request's latency repeated on each) and of ``POST /decide`` (the
served rows of ``decisions``, their per-stage latency JSON). Neither table records failed
requests, so the section says there is no error rate instead of showing one."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from finml.dashboard.extract import (
    ExportContext,
    coverage,
    empty,
    floats,
    newest,
    rows,
    section,
    spec,
)
from finml.dashboard.schema import Chart, ChartFilter, Kpi, Section, Series, TableBlock

SPEC_ID = "serving"
LOG, DECISIONS = "inference_log", "decisions"
RATE_WINDOW = pd.Timedelta(minutes=60)
NO_ERROR_RATE = (
    "not recorded: inference_log has no status or error column (it logs answered requests "
    "only) and decisions none either, so no error rate is computed"
)


@section(SPEC_ID, "Serving", order=67, hint="finml serve (then score or POST /decide)")
def serving(ctx: ExportContext) -> Section:
    """From ``inference_log`` (per request) and the served rows of ``decisions``."""
    requests = _requests(ctx.frame(LOG))
    decide = _decide_totals(ctx.frame(DECISIONS))
    sources = [ctx.source(LOG), ctx.source(DECISIONS)]
    if not len(requests) and not len(decide):
        found = spec(SPEC_ID)
        state = "does not exist" if ctx.frame(LOG) is None else "has no rows"
        reason = f"No data yet: table `{LOG}` {state} and `{DECISIONS}` has no served decision."
        return empty(found.id, found.title, reason, found.hint, sources)
    kpis: list[Kpi] = []
    charts: list[Chart] = []
    tables: list[TableBlock] = []
    if len(requests):
        _scoring(requests, kpis, charts, tables)
    if len(decide):
        kpis += [
            Kpi(label="/decide decisions", value=len(decide)),
            Kpi(label="/decide p50", value=_pct(decide, 50), unit="ms"),
            Kpi(label="/decide p99", value=_pct(decide, 99), unit="ms"),
        ]
    kpis.append(Kpi(label="Error rate", value="not recorded", detail=[NO_ERROR_RATE]))
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=kpis,
        charts=charts,
        tables=tables,
        sources=sources,
        covers=[
            coverage(LOG, ctx.frame(LOG), "logged_at", "scored records")
            + f" ({len(requests):,} requests)",
            f"{DECISIONS}: {len(decide):,} served decisions (POST /decide)",
        ],
        notes=[
            "Latency: per request (a batch's records share it), in ms, as the server measured "
            "it. Throughput: requests in the 60 minutes up to the last logged request. "
            "/decide per-stage latency against its budget: Decisions section."
        ],
    )


def _requests(log: pd.DataFrame | None) -> pd.DataFrame:
    """One row per request: logged_at, model version, variant, latency and records."""
    if log is None or not len(log):
        return pd.DataFrame()
    return (
        log.groupby("request_id", sort=False)
        .agg(
            logged_at=("logged_at", "first"),
            model_version=("model_version", "first"),
            variant=("variant", "first"),
            latency_ms=("latency_ms", "first"),
            records=("request_id", "size"),
        )
        .reset_index()
        .sort_values("logged_at")
    )


def _decide_totals(decisions: pd.DataFrame | None) -> pd.Series:
    """The total latency (ms) of each served decision."""
    if decisions is None or "latency_ms" not in decisions:
        return pd.Series(dtype=float)
    served = decisions[decisions["source"] == "serving"]["latency_ms"].dropna()
    return pd.Series([json.loads(v).get("total") for v in served], dtype=float).dropna()


def _pct(values: pd.Series, q: float) -> float:
    return round(float(np.percentile(values.to_numpy(dtype=float), q)), 3)


def _scoring(requests: pd.DataFrame, kpis: list, charts: list, tables: list) -> None:
    last = requests["logged_at"].max()
    recent = requests[requests["logged_at"] > last - RATE_WINDOW]
    kpis += [
        Kpi(label="Requests", value=len(requests)),
        Kpi(label="Records scored", value=int(requests["records"].sum())),
        Kpi(label="Latency p50", value=_pct(requests["latency_ms"], 50), unit="ms"),
        Kpi(label="Latency p99", value=_pct(requests["latency_ms"], 99), unit="ms"),
        Kpi(label="Throughput (last hour)", value=round(len(recent) / 60, 3), unit="req/min"),
    ]
    hourly = requests.assign(hour=pd.to_datetime(requests["logged_at"], utc=True).dt.floor("h"))
    per_hour = hourly.groupby("hour").agg(
        requests=("request_id", "size"),
        p50=("latency_ms", lambda v: np.percentile(v, 50)),
        p99=("latency_ms", lambda v: np.percentile(v, 99)),
    )
    per_hour = newest(per_hour.reset_index(), "hour")
    hours = [h.isoformat() for h in per_hour["hour"]]
    charts += [
        Chart(
            id="serving_requests",
            title="Requests per hour (UTC)",
            kind="bar",
            series=[Series(name="requests", x=hours, y=floats(per_hour["requests"].tolist()))],
            y_title="requests",
            filter=ChartFilter(x_dates=True),
        ),
        Chart(
            id="serving_latency",
            title="Request latency per hour, ms",
            kind="line",
            series=[
                Series(name=f"p{q}", x=hours, y=floats(per_hour[f"p{q}"].tolist()))
                for q in (50, 99)
            ],
            y_title="ms",
            filter=ChartFilter(x_dates=True),
        ),
    ]
    tables.append(_per_version(requests))


def _per_version(requests: pd.DataFrame) -> TableBlock:
    grouped = requests.groupby(["model_version", "variant"], dropna=False).agg(
        requests=("request_id", "size"),
        records=("records", "sum"),
        p50_ms=("latency_ms", lambda v: np.percentile(v, 50)),
        p99_ms=("latency_ms", lambda v: np.percentile(v, 99)),
        first=("logged_at", "min"),
        last=("logged_at", "max"),
    )
    cols = ["model_version", "variant", "requests", "records", "p50_ms", "p99_ms", "first", "last"]
    return TableBlock(
        id="serving_versions",
        title="Requests per model version and variant",
        columns=cols,
        rows=rows(grouped.reset_index().sort_values("last", ascending=False), cols),
    )
