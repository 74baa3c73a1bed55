"""Feature jobs: new silver trades -> ``trade_features`` (feature store) and ``trade_labels``,
incrementally; the feature store and labels -> point-in-time ``train_set`` / ``test_set``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import Window
from pyspark.sql import functions as F
from rich.table import Table as RichTable

from finml.features import LABEL_COLUMN, feature_columns
from finml.features.batch import batch_context, batch_features
from finml.features.indicators import EXCHANGE_TZ, trade_features
from finml.features.labels import RULE_INPUTS, rule_labels, truth_labels
from finml.features.settings import FeatureSettings, feature_settings
from finml.features.split import time_split
from finml.features.store import FEATURE_TABLE, FeatureStoreManager
from finml.log import get_logger
from finml.runtime.delta import DRIVER_ROWS, MergeSpec

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from rich.console import Console

    from finml.config import ProjectConfig
    from finml.pipelines.stages import BatchContext
    from finml.runtime.delta import DeltaTables, Txn

log = get_logger("jobs.features")

SILVER, LABELS, FEATURE_STAGE = "silver_trades", "trade_labels", "trade_features"
# How far before a batch's first day the driver reads silver for the lookback: a few
# days (a weekend included), then a month; beyond that Spark computes the batch.
_LOOKBACK_DAYS = (4, 31)
TRUTH, TRAIN_SET, TEST_SET = "sim_truth_trades", "train_set", "test_set"


@dataclass
class FeatureReport:
    """What a feature build wrote (rows, label rates, versions) for the demo and the CLI."""

    trades: int = 0
    feature_rows: int = 0
    label_source: str = ""
    unlabelled: int = 0
    train_rows: int = 0
    test_rows: int = 0
    train_label_rate: float = 0.0
    test_label_rate: float = 0.0
    cutoff: date | None = None
    feature_table_version: int = -1
    versions: dict[str, int] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)

    @property
    def label_rate(self) -> float:
        rows = self.train_rows + self.test_rows
        positives = self.train_label_rate * self.train_rows + self.test_label_rate * self.test_rows
        return positives / rows if rows else 0.0

    def print(self, console: Console) -> None:
        """Rows, label rate, split and table versions as rich tables."""
        summary = RichTable("", "value", title="Features and training sets")
        summary.add_row("silver trades", f"{self.trades:,}")
        summary.add_row("feature rows", f"{self.feature_rows:,} ({len(self.features)} features)")
        summary.add_row("labels from", self.label_source)
        summary.add_row("label rate", f"{self.label_rate:.4f} ({self.unlabelled:,} unlabelled)")
        summary.add_row("train rows", f"{self.train_rows:,} (rate {self.train_label_rate:.4f})")
        summary.add_row("test rows", f"{self.test_rows:,} (rate {self.test_label_rate:.4f})")
        summary.add_row("test from day", str(self.cutoff))
        summary.add_row("trade_features version", str(self.feature_table_version))
        for name, version in sorted(self.versions.items()):
            summary.add_row(f"{name} version", str(version))
        console.print(summary)


def update_features(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables, run_id: str | None = None
) -> int:
    """Bring ``trade_features`` and ``trade_labels`` up to date with ``silver_trades``: only
    the trades silver gained since the last update, each computed with the lookback it
    needs, MERGEd exactly once (an incremental stage: the Delta streaming source on
    delta-spark, the table's versions on delta-rs; see :mod:`finml.pipelines.stages`).
    Returns the number of stage batches this call executed (0: nothing was new)."""
    from finml.pipelines.settings import QualitySettings
    from finml.pipelines.stages import Stage, run_stage

    settings = feature_settings(config)
    executed: list[int] = []

    def execute(ctx: BatchContext) -> list:
        executed.append(_features_batch(ctx, settings))
        return []

    stage = Stage(FEATURE_STAGE, SILVER, (FEATURE_TABLE, LABELS), execute, reads=(TRUTH,))
    run_stage(
        stage,
        tables,
        config.checkpoint_dir / "stages",
        QualitySettings.from_config(config),
        run_id or uuid.uuid4().hex,
    )
    log.info("features_updated", batches=len(executed), rows=sum(executed))
    return len(executed)


def _features_batch(ctx: BatchContext, settings: FeatureSettings) -> int:
    """Features and labels of one batch of new silver trades. Per symbol, every trade from
    the first trading day with a new trade (late trades included) is recomputed over that
    day onward plus ``lookback_rows`` earlier trades, so each equals a whole-history build;
    unchanged rows stay untouched by the MERGE. A context of at most ``DRIVER_ROWS`` rows is
    computed on the driver (:mod:`finml.features.batch`), a larger one by Spark. Returns the
    rows recomputed."""
    firsts = ctx.increment().groupBy("symbol").agg(F.min("trade_date").alias("_from_day"))
    cuts = [(r["symbol"], r["_from_day"]) for r in firsts.collect()]
    if not cuts:
        return 0
    collected = _context_on_driver(ctx, dict(cuts), settings.lookback_rows)
    if collected is None:
        return _spark_batch(ctx, settings, cuts)
    features = batch_features(collected, dict(cuts), settings)
    FeatureStoreManager(ctx.tables).upsert(features, txn=ctx.txn(FEATURE_TABLE))
    write_labels(ctx.tables, _batch_labels(ctx, collected, features, settings), txn=ctx.txn(LABELS))
    return features.num_rows


def _context_on_driver(
    ctx: BatchContext, from_day: dict[str, date], lookback_rows: int
) -> pa.Table | None:
    """The batch's context read on the driver: silver's trades (as of the batch) from a
    few days before the earliest ``from_day``, then a month, by delta-rs with the bound
    pushed down to the files' statistics, once that holds ``lookback_rows`` earlier trades
    of every symbol; else all of silver when it has at most ``DRIVER_ROWS`` rows (a new
    home, a new symbol). None when the rows exceed ``DRIVER_ROWS``: then Spark computes
    the batch."""
    silver = ctx.tables.table(SILVER)
    earliest = min(from_day.values())
    for days in (*_LOOKBACK_DAYS, None):
        if days is None and silver.count() > DRIVER_ROWS:
            return None
        since = None if days is None else (earliest - timedelta(days=days)).isoformat()
        where = None if since is None else f"trade_date >= '{since}'"
        rows = silver.to_arrow(ctx.batch.end, where)
        if rows.num_rows > DRIVER_ROWS:
            return None
        context = batch_context(rows, from_day, lookback_rows, complete=days is None)
        if context is not None:
            return context
    return None


def _spark_batch(ctx: BatchContext, settings: FeatureSettings, cuts: list[Any]) -> int:
    """The features and labels of a batch too large for the driver, computed by Spark."""
    silver = ctx.tables.table(SILVER).read(version=ctx.batch.end)
    cut = silver.sparkSession.createDataFrame(cuts, "symbol string, _from_day date")
    rows = silver.join(F.broadcast(cut), "symbol")
    newest_first = Window.partitionBy("symbol").orderBy(F.desc("ts"), F.desc("trade_id"))
    halo = (
        rows.where(F.col("trade_date") < F.col("_from_day"))
        .withColumn("_rank", F.row_number().over(newest_first))
        .where(F.col("_rank") <= settings.lookback_rows)
        .drop("_rank")
    )
    recent = rows.where(F.col("trade_date") >= F.col("_from_day")).drop("_from_day")
    context = recent.unionByName(halo.drop("_from_day"))
    features = (
        context.transform(trade_features(settings))
        .join(F.broadcast(cut), "symbol")
        .where(F.col("_trade_date") >= F.col("_from_day"))
        .drop("_from_day")
    ).cache()
    try:
        count = features.count()  # fills the cache the writes read
        FeatureStoreManager(ctx.tables).upsert(
            features, txn=ctx.txn(FEATURE_TABLE), rows_hint=count
        )
        truth = ctx.state(TRUTH)
        truth_df = ctx.tables.table(TRUTH).read(version=truth) if truth is not None else None
        labels, _, _ = _labels(truth_df, recent, features, settings.label_rule_z)
        write_labels(ctx.tables, labels, txn=ctx.txn(LABELS))
        return count
    finally:
        features.unpersist()


def _batch_labels(
    ctx: BatchContext, context: pa.Table, features: pa.Table, settings: FeatureSettings
) -> pa.Table:
    """Labels of the batch's recomputed trades (as Arrow), by the same transforms as the
    Spark path over the driver's rows: from the simulator's truth when the stage has it
    (only truth rows from the batch's first trade on are read), else the rule on the
    features."""
    import pyarrow.compute as pc

    spark = ctx.increment().sparkSession
    ids = features.column("trade_id")
    recent = spark.createDataFrame(context.filter(pc.is_in(context.column("trade_id"), ids)))
    truth = ctx.state(TRUTH)
    if truth is not None and features.num_rows:
        first = int(pc.min(features.column("ts")).as_py().timestamp() * 1000)
        since = ctx.tables.table(TRUTH).to_arrow(truth, f"ts_ms >= {first}")
        truth_rows = spark.createDataFrame(since)
        labels, _, _ = _labels(truth_rows, recent, recent, settings.label_rule_z)
    else:
        frame = spark.createDataFrame(features)
        labels, _, _ = _labels(None, recent, frame, settings.label_rule_z)
    return labels.toArrow()


def write_labels(
    tables: DeltaTables, labels: DataFrame | pa.Table, *, txn: Txn | None = None
) -> None:
    """Upsert ``labels`` (symbol, ts, trade_id, label, label_source) into ``trade_labels`` on
    ``trade_id``: new trades inserted, a label that changed (ground truth arriving after a
    rule label) updated, the rest untouched."""
    table = tables.table(LABELS)
    if not table.exists():
        table.append(labels, txn=txn)
        return
    # Parenthesised: DataFusion (delta-rs) binds OR tighter than IS DISTINCT FROM.
    changed = (
        "(t.label IS DISTINCT FROM s.label) OR (t.label_source IS DISTINCT FROM s.label_source)"
    )
    table.merge(labels, MergeSpec(keys=("trade_id",), matched_condition=changed), txn=txn)


def build_features(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables
) -> FeatureReport:
    """Update the feature store from ``silver_trades`` (:func:`update_features`), label the
    trades (ground truth where the simulator left it, else the rule) and write the
    point-in-time ``train_set`` / ``test_set`` of the latest ``features.training_days``
    trading days (all by default), split by trading day.

    Raises:
        TableNotFound: ``silver_trades`` does not exist.
        DataError: fewer than two trading days to split.
    """
    settings = feature_settings(config)
    silver = tables.require(SILVER).read()
    update_features(config, spark, tables)
    store = FeatureStoreManager(tables)
    features, feature_version = store.read_as_of(None)
    truth = tables.table(TRUTH)
    truth_df = truth.read() if truth.exists() else None
    labels, source, exclude = _labels(truth_df, silver, features, settings.label_rule_z)
    write_labels(tables, labels)
    labels = tables.table(LABELS).read().drop("label_source")
    if settings.training_days is not None:
        labels = _latest_days(labels, settings.training_days)
    training = store.create_training_set(labels, exclude=exclude)
    split = time_split(training.df, settings.test_fraction)
    report = FeatureReport(
        trades=tables.table(SILVER).count(),
        feature_rows=store.table.count(),
        label_source=source,
        cutoff=split.cutoff,
        feature_table_version=training.feature_table_version,
        features=feature_columns(training.df),
    )
    for name, part in ((TRAIN_SET, split.train), (TEST_SET, split.test)):
        result = tables.table(name).overwrite(part, schema_evolution=True)
        report.versions[name] = result.version
        rows, rate = _rows_and_rate(tables.table(name).read(version=result.version))
        if name == TRAIN_SET:
            report.train_rows, report.train_label_rate = rows, rate
        else:
            report.test_rows, report.test_label_rate = rows, rate
    report.versions[FEATURE_TABLE] = feature_version
    report.unlabelled = report.feature_rows - tables.table(LABELS).count()
    log.info("features_built", rows=report.feature_rows, label_rate=round(report.label_rate, 5))
    return report


def _latest_days(labels: DataFrame, days: int) -> DataFrame:
    """The labels of the latest ``days`` New-York trading days."""
    day = F.to_date(F.from_utc_timestamp("ts", EXCHANGE_TZ))
    dated = labels.withColumn("_day", day)
    recent = [r[0] for r in dated.select("_day").distinct().orderBy(F.desc("_day")).take(days)]
    if not recent:
        return labels
    return dated.where(F.col("_day") >= F.lit(min(recent))).drop("_day")


def _labels(
    truth: DataFrame | None, silver: DataFrame, features: DataFrame, threshold: float
) -> tuple[DataFrame, str, tuple[str, ...]]:
    """Labels of ``silver``'s trades (with ``label_source``), where they came from, and the
    feature columns a model must not see (a rule's inputs)."""
    if truth is not None:
        labels = silver.transform(truth_labels(truth))
        return labels.withColumn("label_source", F.lit(TRUTH)), TRUTH, ()
    rule = f"rule |return_z| or |volume_z| > {threshold:g} (inputs excluded)"
    labels = features.transform(rule_labels(threshold))
    return labels.withColumn("label_source", F.lit("rule")), rule, RULE_INPUTS


def _rows_and_rate(df: DataFrame) -> tuple[int, float]:
    row = df.agg(F.count(F.lit(1)).alias("n"), F.avg(LABEL_COLUMN).alias("rate")).first()
    # A global aggregate has exactly one row; pyspark types first() as optional.
    return int(row["n"]), float(row["rate"] or 0.0)  # type: ignore[index]
