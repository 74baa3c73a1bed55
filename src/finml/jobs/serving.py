"""Serving jobs: batch scoring into ``predictions``, the A/B report into ``ab_tests``, and
the REST server process."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.errors import DataError
from finml.log import get_logger

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables, Table
    from finml.serving.abtest import Comparison
    from finml.serving.settings import ServingSettings

log = get_logger("jobs.serving")

# A prediction is of one trade by one model version: batch inference writes each once.
PREDICTION_KEY = ("trade_id", "model_name", "model_version")


@dataclass(frozen=True)
class ScoreReport:
    source: str
    source_version: int
    rows: int
    model_name: str
    model_version: str
    table: str
    table_version: int
    method: str
    seconds: float


def score_table(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    source: str = "test_set",
    *,
    alias: str = "champion",
    settings: ServingSettings | None = None,
    method: str | None = None,
    new_only: bool = False,
) -> ScoreReport:
    """Score the rows of Delta table ``source`` that the model holding ``alias`` has not
    scored yet into ``predictions`` (symbol, ts, trade_id, score, prediction, model_name,
    model_version, scored_at): each (trade, model name, model version) once, however often
    the job runs -- rows already there are not scored again, and the write is an
    insert-only MERGE on that key, so a rerun or an overlapping run adds nothing.

    With ``new_only`` (the scheduled job over ``trade_features``) only trades no version of
    the model has scored yet are scored: each new trade by the champion of the day it
    arrived, so a new champion's predictions (and its live metrics) start after its
    promotion instead of re-scoring history it was trained on.

    Raises:
        ModelNotFound: no version holds ``alias``.
        TableNotFound: ``source`` does not exist.
        SchemaMismatch: ``source`` lacks a key column or one of the model's features.
    """
    from finml.serving.settings import ServingSettings

    settings = settings or ServingSettings.from_config(config)
    method = method or settings.score_method
    started = time.perf_counter()
    name, version, uri, features, model = _pinned_model(config, settings, alias)
    source_version, df = _source_rows(tables, source, features)
    target = tables.table(settings.predictions_table)
    existed = target.exists()  # looked up once: scoring never creates it before the write
    if existed:
        df = _not_yet_scored(df, target, name, version, new_only)
    rows = _collected(df, features, method)  # None: too many for the driver, or not asked
    ran = "driver" if rows is not None else "map_in_pandas" if method == "auto" else method
    if existed and (rows.num_rows == 0 if rows is not None else df.isEmpty()):
        return _reported(  # everything already scored by this version: no commit at all
            source, source_version, 0, name, version, str(target.name),
            target.version(), ran, started,
        )  # fmt: skip
    watched = _trades_to_watch(config, tables, df, rows)
    scored = _scored(config, df, rows, (uri, model, features, name, version), ran)
    metadata = {"source": source, "source_version": str(source_version), "model": uri}
    table_version, written = _write_predictions(target, scored, existed, metadata)
    if watched is not None:
        _market_alerts(config, tables, watched)
    return _reported(
        source, source_version, written, name, version, str(target.name),
        table_version, ran, started,
    )  # fmt: skip


def _collected(df: DataFrame, features: tuple[str, ...], method: str) -> pa.Table | None:
    """The rows to score (keys and ``features``) as Arrow on the driver, for method
    ``driver``, or ``auto`` when there are at most ``DRIVER_ROWS`` of them; else None."""
    from finml.runtime.delta import collect_small
    from finml.serving.scoring import KEYS

    if method not in ("auto", "driver"):
        return None
    picked = df.select(*KEYS, *features)
    return picked.toArrow() if method == "driver" else collect_small(picked)


def _scored(
    config: ProjectConfig,
    df: DataFrame,
    rows: pa.Table | None,
    model: tuple[str, Any, tuple[str, ...], str, str],
    method: str,
) -> DataFrame | pa.Table:
    """The predictions of ``df`` by ``model`` (URI, loaded pyfunc, features, name,
    version): scored on the driver from ``rows`` when collected, else by Spark's
    ``method``."""
    from finml.serving.scoring import predict_on_driver, with_predictions

    uri, loaded, features, name, version = model
    now = datetime.now(UTC)
    if rows is not None:
        return predict_on_driver(loaded, rows, features, name, version, now)
    stores = (config.tracking_uri, config.registry_uri)
    return df.transform(
        with_predictions(uri, features, name, version, now, method=method, stores=stores)
    )


def _reported(
    source: str,
    source_version: int,
    rows: int,
    name: str,
    version: str,
    table: str,
    table_version: int,
    method: str,
    started: float,
) -> ScoreReport:
    """The report of a scoring run that started at ``started`` (``time.perf_counter``),
    logged as ``batch_scored``."""
    report = ScoreReport(
        source, source_version, rows, name, version, table, table_version, method,
        time.perf_counter() - started,
    )  # fmt: skip
    log.info("batch_scored", **report.__dict__)
    return report


def _pinned_model(
    config: ProjectConfig, settings: ServingSettings, alias: str
) -> tuple[str, str, str, tuple[str, ...], Any]:
    """The model holding ``alias``: its name, version, version-pinned URI (an alias move
    mid-job changes nothing), signature features and the loaded pyfunc.

    Raises:
        ModelNotFound: no version holds ``alias``.
    """
    import mlflow

    from finml import registry
    from finml.serving.models import signature_features

    registry.configure(config)
    name = registry.model_name(config, settings.model)
    info = registry.require_alias(config, name, alias)
    uri = f"models:/{name}/{info.version}"
    model = mlflow.pyfunc.load_model(uri)
    return name, str(info.version), uri, signature_features(model, name), model


def _source_rows(
    tables: DeltaTables, source: str, features: tuple[str, ...]
) -> tuple[int, DataFrame]:
    """Table ``source``'s latest version and its rows there.

    Raises:
        TableNotFound: ``source`` does not exist.
        SchemaMismatch: ``source`` lacks a key column or one of the model's features.
    """
    from finml.serving.scoring import require_columns

    table = tables.require(source)
    source_version = table.version()
    df = table.read(version=source_version)
    require_columns(df, features, str(table.name))
    return source_version, df


def _not_yet_scored(
    df: DataFrame, target: Table, name: str, version: str, new_only: bool
) -> DataFrame:
    """The rows of ``df`` that model ``name`` (version ``version``, or any version with
    ``new_only``) has no prediction of in ``target`` yet."""
    from pyspark.sql import functions as F

    done = target.read().where(F.col("model_name") == name)
    if not new_only:
        done = done.where(F.col("model_version") == version)
    return df.join(done.select("trade_id"), "trade_id", "left_anti")


def _write_predictions(
    target: Table, scored: DataFrame | pa.Table, existed: bool, metadata: dict[str, str]
) -> tuple[int, int]:
    """Write ``scored`` into ``target``: an insert-only MERGE on the prediction key into an
    existing table, else an append; returns the table's version and the rows written."""
    from finml.runtime.delta import MergeSpec

    if existed:
        key = MergeSpec(keys=PREDICTION_KEY, update_columns=())
        result = target.merge(scored, key, metadata=metadata)
        rows = int(result.metrics.get("rows_inserted", 0) or 0)
    else:
        result = target.append(scored, metadata=metadata)
        rows = result.rows if result.rows is not None else target.count()
    return result.version, rows


def _trades_to_watch(
    config: ProjectConfig, tables: DeltaTables, rows: Any, collected: pa.Table | None
) -> Any:
    """The extreme-move candidates of the trades being scored (prices from silver, after
    their lookback history): on the driver for a batch ``collected`` there, else on the
    executors per symbol, where only the candidates reach the driver (the same alerts
    either way). Computed before the write (``rows`` is lazy: after the write the
    anti-join finds none). None without ``silver_trades``."""
    from finml.monitoring.market_alerts import driver_extreme_moves, spark_extreme_moves
    from finml.monitoring.settings import MonitoringSettings

    silver = tables.table("silver_trades")
    if not silver.exists():
        return None
    watch = MonitoringSettings.from_config(config).watch
    if collected is not None:
        keys = collected.select(["symbol", "ts", "trade_id"]).to_pandas()
        return driver_extreme_moves(
            lambda where: silver.to_arrow(where=where).to_pandas(), keys, watch
        )
    return spark_extreme_moves(silver.read(), rows.select("trade_id"), watch)


def _market_alerts(config: ProjectConfig, tables: DeltaTables, moves: Any) -> None:
    """EXTREME_MOVE (``moves``) and REGIME_CHANGE alerts of the scored trades (once per
    symbol and day); an alert that cannot be raised does not fail the scoring run."""
    from finml.monitoring.market_alerts import STATES, champion_transition, send_market_alerts

    try:
        regimes = tables.table("regime_states")
        states = (
            regimes.to_arrow().select(["symbol", "trade_date", "regime"]).to_pandas()
            if regimes.exists()
            else None
        )
        found = champion_transition(config)
        send_market_alerts(
            config,
            tables,
            moves,
            regime_states=states,
            transition=found[0] if found else None,
            states=found[1] if found else STATES,
        )
    except Exception as exc:
        log.error("market_alerts_not_raised", error=str(exc))


def ab_report(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    *,
    settings: ServingSettings | None = None,
    labels_table: str | None = None,
) -> tuple[Comparison, dict[str, Any]]:
    """Join ``inference_log`` with the labels, compare champion with challenger (or shadow),
    append one row to ``ab_tests``; returns the comparison and the row written.

    Raises:
        TableNotFound: the log or the labels table does not exist.
        DataError: the log has no champion rows or no challenger/shadow rows with labels.
    """
    from finml import registry
    from finml.serving.abtest import (
        AB_TESTS_SCHEMA,
        Confusion,
        compare,
        confusion_by_variant,
        labelled,
    )
    from finml.serving.settings import ServingSettings

    settings = settings or ServingSettings.from_config(config)
    rs = settings.ab_report
    labels_name = labels_table or rs.labels_table
    log_table = tables.require(settings.inference_log.table)
    log_version = log_table.version()
    labels = tables.require(labels_name).read()
    joined = log_table.read(version=log_version).transform(
        labelled(labels, rs.join_on, rs.label_column)
    )
    found = {r["variant"]: Confusion(**r.asDict()) for r in confusion_by_variant(joined).collect()}
    other = "challenger" if "challenger" in found else "shadow"
    if "champion" not in found or other not in found:
        raise DataError(
            f"table {log_table.name}: expected labelled rows of variant champion and "
            f"challenger or shadow, got {sorted(found) or 'none'}"
        )
    result = compare(found["champion"], found[other], rs.metric, rs.alpha, rs.min_samples)
    row = {
        "test_id": uuid.uuid4().hex,
        "analyzed_at": datetime.now(UTC),
        "model_name": registry.model_name(config, settings.model),
        "inference_log_version": log_version,
        "labels_table": str(tables.name(labels_name)),
        **result.as_row(),
    }
    tables.table(rs.table).append(pa.Table.from_pylist([row], schema=AB_TESTS_SCHEMA))
    log.info("ab_report", decision=result.decision, reason=result.reason)
    return result, row


def serve(
    config: ProjectConfig,
    settings: ServingSettings,
    *,
    log_level: str = "warning",
    decide: bool = False,
) -> None:
    """Run the REST service under uvicorn (uvloop + httptools) until SIGINT/SIGTERM; the
    lifespan flushes the inference log (and the decisions) on the way out. ``decide`` adds
    ``POST /decide``; the MLOps API is under ``/mlops`` (:mod:`finml.jobs.mlops`)."""
    import signal

    import uvicorn

    from finml.jobs.mlops import mount_mlops
    from finml.serving.app import create_app

    app = mount_mlops(create_app(config, settings, decide=decide))
    # uvicorn re-raises the signal that stopped it once its graceful shutdown is done; with
    # the default handler that kills the process (exit -15) although nothing failed. A no-op
    # handler installed first is what it restores and re-raises into, so we exit 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: None)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
