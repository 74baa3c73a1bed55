"""The streaming scoring job: a Structured Streaming query over new ``silver_trades`` ->
online features -> the ``@champion``'s probabilities -> decisions, appended to the Delta
table ``decisions`` (``source`` = ``streaming``) exactly once.

The query is Delta source -> ``transformWithStateInPandas`` keyed by account -> Delta sink:

* the state (:class:`~finml.jobs.stream_scorer.StreamScorer`: each symbol's online feature
  state and the account's portfolio) lives in the query's RocksDB state store, versioned
  with the checkpoint;
* Delta's sink commits each micro-batch with the query id and batch id as its transaction,
  so a batch replayed after a crash adds nothing twice.

Killed at any point (SIGKILL included) and restarted on the same checkpoint, the query
re-runs the micro-batch that was not committed from the state of the last one that was:
the table ends as if it had never stopped (``tests/integration/jobs/test_streaming_scoring.py``).

The stream starts after the ``silver_trades`` version of its first run (history is batch
inference's and the backtest's), its state warm-started from silver's tail at that version
as ``POST /decide`` warms its own; a first run with nothing newer is idle (no query).
The champion's version is resolved when the query starts (a scheduled run picks up an
alias move; a continuous one on its restart); the regime view is the ``regime_states`` of
that moment. Every trade of the stream yields one decision row, except exact duplicates
(same ``trade_id``), which yield none.

>>> report = run_streaming_scoring(config, spark, tables)  # doctest: +SKIP
>>> report.decisions  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql.streaming.stateful_processor import StatefulProcessor, StatefulProcessorHandle
from pyspark.sql.types import BinaryType, StructField, StructType

from finml.errors import ModelNotFound
from finml.jobs.stream_scorer import TRADE_COLUMNS, StreamScorer
from finml.log import get_logger
from finml.runtime.delta.jvm_sql import session_conf
from finml.serving.decisions.records import DECISIONS, TABLE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from finml.config import ProjectConfig
    from finml.features.settings import FeatureSettings
    from finml.runtime.delta import DeltaTables
    from finml.serving.decide import RegimeView
    from finml.serving.decisions import DecisionPolicy
    from finml.serving.models import LoadedModel

log = get_logger("jobs.streaming_scoring")

ACCOUNT = "streaming"
CHECKPOINT = "streaming_scoring"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
_STATE = StructType([StructField("scorer", BinaryType(), False)])
_MODELS: dict[tuple[str, str, int], LoadedModel] = {}  # per Python worker


@dataclass(frozen=True)
class StreamSpec:
    """What the query's Python workers need: where the champion is, the feature and
    decision settings, the regime view, the account and the query's id."""

    tracking_uri: str
    registry_uri: str
    model_name: str
    model_version: int
    settings: FeatureSettings
    policy: DecisionPolicy
    regimes: RegimeView
    account: str
    run_id: str
    warm: pd.DataFrame  # silver's tail at the pinned start: the state's first warm start


@dataclass
class StreamReport:
    """One run of the query: its micro-batches, the trades read and the decisions written."""

    model_name: str
    model_version: int
    batches: int
    trades: int
    decisions: int

    def __str__(self) -> str:
        return (
            f"streaming scoring with {self.model_name} v{self.model_version}: "
            f"{self.batches} micro-batch(es), {self.trades:,} trades read, "
            f"{self.decisions:,} decisions in total"
        )


class DecisionProcessor(StatefulProcessor):
    """``transformWithStateInPandas`` processor: one :class:`StreamScorer` per account,
    in a value state (see the module docstring)."""

    def __init__(self, spec: StreamSpec):
        self.spec = spec

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.state = handle.getValueState("scorer", _STATE)
        self.model = _model(self.spec)

    def handleInputRows(
        self, key: Any, rows: Iterator[pd.DataFrame], timerValues: Any
    ) -> Iterator[pd.DataFrame]:
        spec = self.spec
        stored = self.state.get() if self.state.exists() else None
        if stored is not None:
            scorer = StreamScorer.loads(stored[0])
        else:
            scorer = StreamScorer(spec.settings, spec.policy, str(key[0]))
            scorer.online.warm_start(spec.warm)
        trades = pd.concat(list(rows), ignore_index=True)
        out = scorer.step(
            trades, self.model, spec.regimes, run_id=spec.run_id, decided_at=datetime.now(UTC)
        )
        self.state.update((scorer.dumps(),))
        yield out

    def close(self) -> None:
        pass


def run_streaming_scoring(
    config: ProjectConfig,
    spark: SparkSession,
    tables: DeltaTables,
    *,
    interval: str | None = None,
    max_files_per_trigger: int | None = None,
    account: str = ACCOUNT,
) -> StreamReport:
    """Run the query (see the module docstring) on its checkpoint under
    ``config.checkpoint_dir``: what is new in ``silver_trades``, then stop; with
    ``interval`` (``"30 seconds"``), every interval until stopped.

    Raises:
        TableNotFound: ``silver_trades`` is missing.
        ModelNotFound: no version holds ``@champion``.
        DeltaEngineError: the engine is delta-rs (no Delta streaming source).
    """
    from finml import registry

    silver = tables.require("silver_trades")
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    info = registry.by_alias(config, name, registry.CHAMPION)
    if info is None:
        raise ModelNotFound(f"model {name}: expected a version with @champion, got none")
    checkpoint = config.checkpoint_dir / CHECKPOINT / account
    start = _pinned_start(checkpoint, silver.version())
    if not (checkpoint / "offsets").is_dir() and silver.version() <= start:
        log.info("streaming_scoring_idle", account=account, start_version=start)
        return StreamReport(name, int(info.version), 0, 0, _count(tables))
    spec = _spec(config, tables, name, int(info.version), account, checkpoint, start)
    log.info("streaming_scoring_start", model=name, version=spec.model_version, account=account)
    query = _run_query(spark, tables, spec, checkpoint, start, interval, max_files_per_trigger)
    progress = [p for p in query.recentProgress if p.numInputRows]  # not the idle polls
    report = StreamReport(
        name,
        spec.model_version,
        batches=len(progress),
        trades=int(sum(p.numInputRows for p in progress)),
        decisions=_count(tables),
    )
    log.info("streaming_scoring_done", **report.__dict__)
    return report


def _spec(
    config: ProjectConfig,
    tables: DeltaTables,
    name: str,
    version: int,
    account: str,
    checkpoint: Path,
    start: int,
) -> StreamSpec:
    """What the workers need, the checkpoint created (its query id is the rows' run id)."""
    from finml.features.online import WARM_COLUMNS, OnlineFeatures
    from finml.features.settings import feature_settings
    from finml.runtime.streaming import checkpoint_id, create_checkpoint
    from finml.serving.decide import RegimeView
    from finml.serving.decisions import DecisionPolicy

    create_checkpoint(checkpoint)
    states = tables.table("regime_states")
    online = OnlineFeatures(feature_settings(config))
    silver = tables.require("silver_trades").to_arrow(start).select(list(WARM_COLUMNS))
    return StreamSpec(
        config.tracking_uri,
        config.registry_uri,
        name,
        version,
        online.settings,
        DecisionPolicy.from_config(config),
        RegimeView(states.to_arrow().to_pandas() if states.exists() else None),
        account,
        checkpoint_id(checkpoint),
        online.warm_tail(silver.to_pandas()),
    )


def _run_query(
    spark: SparkSession,
    tables: DeltaTables,
    spec: StreamSpec,
    checkpoint: Path,
    start: int,
    interval: str | None,
    max_files: int | None,
) -> StreamingQuery:
    """Start the query on ``checkpoint`` and wait for it to stop (see the module docstring)."""
    from pyspark.sql import functions as F

    from finml.runtime.delta.schemas import arrow_to_spark

    schema = arrow_to_spark(DECISIONS)
    decisions = tables.table(TABLE)
    if not decisions.exists():
        decisions.create(schema)
    options = {"maxFilesPerTrigger": str(max_files)} if max_files else {}
    with _rocksdb(spark):
        scored = (
            tables.require("silver_trades")
            .read_stream(start + 1, options)
            .select(*TRADE_COLUMNS)
            .withColumn("account", F.lit(spec.account))
            .groupBy("account")
            .transformWithStateInPandas(DecisionProcessor(spec), schema, "Append", "None")
        )
        query = decisions.write_stream(scored, str(checkpoint), interval=interval)
        try:
            query.awaitTermination()
        finally:
            if query.isActive:
                query.stop()
    return query


def _pinned_start(checkpoint: Path, version: int) -> int:
    """The ``silver_trades`` version the query starts after, written on its first run
    (``version``, the latest then) next to the checkpoint, so a restart before the first
    micro-batch warms its state from the same trades."""
    from finml.runtime.batches import create_once

    path = checkpoint.with_name(f"{checkpoint.name}.start.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    create_once(path, json.dumps({"silver_version": version}))
    return int(json.loads(path.read_text())["silver_version"])


def _count(tables: DeltaTables) -> int:
    table = tables.table(TABLE)
    return table.count() if table.exists() else 0


@contextmanager
def _rocksdb(spark: SparkSession) -> Iterator[None]:
    """The RocksDB state store (``transformWithState`` needs it) while the query starts and
    runs, unless the session already names a RocksDB provider (Databricks has its own);
    the session's own setting afterwards."""
    key = "spark.sql.streaming.stateStore.providerClass"
    if "RocksDB" in (spark.conf.get(key, None) or ""):
        yield
        return
    with session_conf(spark, {key: ROCKSDB}):
        yield


def _model(spec: StreamSpec) -> LoadedModel:
    """The champion version, loaded once per Python worker."""
    key = (spec.registry_uri, spec.model_name, spec.model_version)
    if key not in _MODELS:
        import mlflow

        from finml.serving.models import load_version

        mlflow.set_tracking_uri(spec.tracking_uri)
        mlflow.set_registry_uri(spec.registry_uri)
        _MODELS[key] = load_version(spec.model_name, spec.model_version, "champion")
    return _MODELS[key]
