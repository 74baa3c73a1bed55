"""Feature job: silver trades -> ``gold_trade_features`` -> feature store -> train/test sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from rich.table import Table as RichTable

from finml.features import LABEL_COLUMN, feature_columns
from finml.features.indicators import trade_features
from finml.features.labels import RULE_INPUTS, rule_labels, truth_labels
from finml.features.settings import feature_settings
from finml.features.split import time_split
from finml.features.store import FeatureStoreManager
from finml.log import get_logger

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from rich.console import Console

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.features")

SILVER, GOLD_FEATURES = "silver_trades", "gold_trade_features"
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


def build_features(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables
) -> FeatureReport:
    """Compute trade features from ``silver_trades``, upsert the feature store, label the
    trades and write ``train_set`` / ``test_set`` split by trading day.

    Raises:
        TableNotFound: ``silver_trades`` does not exist.
        DataError: fewer than two trading days to split.
    """
    settings = feature_settings(config)
    silver = tables.require(SILVER).read()
    gold = tables.table(GOLD_FEATURES)
    gold_result = gold.overwrite(silver.transform(trade_features(settings)), schema_evolution=True)
    features = gold.read(version=gold_result.version)
    store = FeatureStoreManager(tables)
    store.upsert(features)
    labels, source, exclude = _labels(tables, silver, features, settings.label_rule_z)
    training = store.create_training_set(labels, exclude=exclude)
    split = time_split(training.df, settings.test_fraction)
    report = FeatureReport(
        trades=tables.table(SILVER).count(),
        feature_rows=gold.count(),
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
    report.versions[GOLD_FEATURES] = gold_result.version
    report.unlabelled = report.feature_rows - report.train_rows - report.test_rows
    log.info("features_built", rows=report.feature_rows, label_rate=round(report.label_rate, 5))
    return report


def _labels(
    tables: DeltaTables, silver: DataFrame, features: DataFrame, threshold: float
) -> tuple[DataFrame, str, tuple[str, ...]]:
    truth = tables.table(TRUTH)
    if truth.exists():
        return silver.transform(truth_labels(truth.read())), TRUTH, ()
    rule = f"rule |return_z| or |volume_z| > {threshold:g} (inputs excluded)"
    return features.transform(rule_labels(threshold)), rule, RULE_INPUTS


def _rows_and_rate(df: DataFrame) -> tuple[int, float]:
    row = df.agg(F.count(F.lit(1)).alias("n"), F.avg(LABEL_COLUMN).alias("rate")).first()
    return int(row["n"]), float(row["rate"] or 0.0)
