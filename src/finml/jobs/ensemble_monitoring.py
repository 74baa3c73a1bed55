"""The ensemble members' live performance per monitoring window ->
``ensemble_member_monitoring``, and the evidence the retraining job weighs them by.

For every window the performance monitor has just counted for an ensemble version, the
version's own members (loaded from the registry with the pyfunc) score the window's labelled
rows from the feature table; each member's PR-AUC and positives become one piece of
:class:`~finml.models.ensemble.Evidence`. The EWMA of that evidence, its confidence and the
weight it implies (:func:`~finml.models.ensemble.member_weights`) are recorded next to the
weight the version serves with, so the table shows how the live weights move. The next
tournament composes its ensemble from its folds followed by this evidence
(:func:`live_evidence`). Windows already in the table are skipped: a rerun adds nothing.

>>> rows = monitor_members(config, tables, scored, labels, records)  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.log import get_logger
from finml.models.ensemble import Evidence, member_weights, window_evidence
from finml.monitoring.schemas import append_records

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.config import ProjectConfig
    from finml.models.pyfunc import AnomalyPyfunc
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.ensemble_monitoring")
TABLE = "ensemble_member_monitoring"
FEATURES = "trade_features"
ENSEMBLE = "ensemble"


def monitor_members(
    config: ProjectConfig,
    tables: DeltaTables,
    scored: DataFrame,
    labels: DataFrame,
    records: list[dict[str, Any]],
    *,
    granularity: str = "1 day",
    features: DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Member rows for the ``model_monitoring`` ``records`` just computed from ``scored``
    and ``labels`` (same windows, ``granularity``) whose version is an ensemble; appended
    to ``ensemble_member_monitoring`` and returned. ``features`` (default: the feature
    table) supplies each scored trade's feature values by ``trade_id``."""
    done = _done(tables)
    todo: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        key = (rec["model_name"], str(rec["model_version"]))
        if (*key, rec["window"]["start"]) not in done:
            todo.setdefault(key, []).append(rec)
    if not todo:
        return []
    if features is None and not tables.table(FEATURES).exists():
        return []
    features = features if features is not None else tables.table(FEATURES).read()
    rows: list[dict[str, Any]] = []
    for (name, version), recs in todo.items():
        model = _ensemble(config, name, version)
        if model is None:
            continue
        frame = _window_rows(model, scored, labels, features, name, version, granularity)
        starts = {r["window"]["start"] for r in recs}
        frame = frame[frame["window_start"].isin(list(starts))]
        prior = live_evidence(tables, name)
        rows += member_rows(
            model, frame, prior, name=name, version=version, granularity=granularity
        )
    append_records(tables, TABLE, rows)
    log.info("member_monitoring", rows=len(rows), versions=len(todo))
    return rows


def member_rows(
    model: AnomalyPyfunc,
    frame: pd.DataFrame,
    prior: dict[str, list[Evidence]],
    *,
    name: str,
    version: str,
    granularity: str,
) -> list[dict[str, Any]]:
    """One row per (window, member) of ``frame`` (``window_start``, ``window_end``,
    ``label`` and the model's features), windows in time order; ``prior``: each member's
    evidence before these windows, extended as the windows are scored."""
    ensemble = model.scorer
    members: dict[str, Any] = ensemble.members  # type: ignore[attr-defined]
    alpha = float(ensemble.params.get("alpha", 0.5))
    evidence = {m: list(prior.get(m, [])) for m in members}
    now, rows = datetime.now(UTC), []
    for (start, end), window in frame.groupby(["window_start", "window_end"], sort=True):
        y = window["label"].to_numpy(np.int64)
        x = model.preprocessor.transform(window)
        scored = window_evidence(
            y, {m: np.asarray(member.score(x)) for m, member in members.items()}
        )
        for m, item in scored.items():
            evidence[m].append(item)
        weights = member_weights(evidence, alpha)
        rows += [
            {
                "window": {"start": _utc(start), "end": _utc(end)},
                "granularity": granularity,
                "model_name": name,
                "model_version": version,
                "member": m,
                "labelled_count": len(y),
                "positive_count": int(y.sum()),
                "pr_auc": scored[m].pr_auc if m in scored else None,
                "edge": scored[m].edge if m in scored else None,
                "edge_se": scored[m].edge_se if m in scored else None,
                "serving_weight": float(ensemble.weights[m]),  # type: ignore[attr-defined]
                "level": _finite(weights[m].level),
                "live_edge": _finite(weights[m].edge),
                "confidence": float(weights[m].confidence),
                "live_weight": float(weights[m].weight),
                "live_windows": len(evidence[m]),
                "_computed_at": now,
            }
            for m in members
        ]
    return rows


def live_evidence(tables: DeltaTables, model_name: str) -> dict[str, list[Evidence]]:
    """Each member's live evidence for ``model_name`` from ``ensemble_member_monitoring``,
    oldest window first (one per window: the newest version that served it)."""
    table = tables.table(TABLE)
    if not table.exists():
        return {}
    data = table.to_arrow().to_pandas()
    data = data[(data["model_name"] == model_name) & data["pr_auc"].notna()]
    if data.empty:
        return {}
    data = data.assign(
        _start=data["window"].map(lambda w: w["start"]),
        _version=pd.to_numeric(data["model_version"], errors="coerce"),
    ).sort_values(["_start", "_version"])
    data = data.drop_duplicates(["_start", "member"], keep="last")
    return {
        member: [
            Evidence(float(r.pr_auc), int(r.positive_count), _number(r.edge), _number(r.edge_se))
            for r in g.itertuples()
        ]
        for member, g in data.groupby("member", sort=True)
    }


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _done(tables: DeltaTables) -> set[tuple[str, str, datetime]]:
    table = tables.table(TABLE)
    if not table.exists():
        return set()
    rows = table.to_arrow().select(["model_name", "model_version", "window"]).to_pylist()
    return {(r["model_name"], r["model_version"], r["window"]["start"]) for r in rows}


def _ensemble(config: ProjectConfig, name: str, version: str) -> AnomalyPyfunc | None:
    """The pyfunc of ``name`` v``version`` when its winner was the ensemble, else None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from finml import registry

    try:
        tags = registry.client(config).get_model_version(name, version).tags
    except MlflowException:  # scored by a model this registry does not hold
        log.warning("member_monitoring_unknown_version", model=name, version=version)
        return None
    if tags.get("finml.candidate", ENSEMBLE) != ENSEMBLE:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    return model if hasattr(getattr(model, "scorer", None), "members") else None


def _window_rows(
    model: AnomalyPyfunc,
    scored: DataFrame,
    labels: DataFrame,
    features: DataFrame,
    name: str,
    version: str,
    granularity: str,
) -> pd.DataFrame:
    from pyspark.sql import functions as F

    win = F.window("ts", granularity)
    label = labels.select("trade_id", F.col("label").cast("int").alias("label"))
    values = features.select("trade_id", *model.features)
    frame: pd.DataFrame = (
        scored.where(
            (F.col("model_name") == name) & (F.col("model_version").cast("string") == version)
        )
        .select("trade_id", win.start.alias("window_start"), win.end.alias("window_end"))
        .join(label.dropDuplicates(["trade_id"]), "trade_id")
        .join(values.dropDuplicates(["trade_id"]), "trade_id")
        .toPandas()  # type: ignore[assignment]
    )
    for column in ("window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column]).dt.tz_localize(UTC)
    return frame


def _utc(value: Any) -> datetime:
    return pd.Timestamp(value).tz_convert(UTC).to_pydatetime()


def _finite(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)
