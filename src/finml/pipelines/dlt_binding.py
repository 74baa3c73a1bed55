"""The medallion as a declarative pipeline: Databricks (Lakeflow/DLT) and open-source Spark
Declarative Pipelines (SDP), from the same contracts and transforms as the local runner.

:func:`define_pipeline` declares every medallion table of :mod:`finml.pipelines.contracts`
(names, comments, partitioning, rules) on ``dp``: ``import dlt`` on Databricks, or
``from pyspark import pipelines as dp`` under ``spark-pipelines run``.

* **Bronze** reads the landing zone: Auto Loader (``cloudFiles``) streaming tables on
  Databricks; open-source SDP has no Auto Loader, so there bronze is a materialized view
  over a batch read of the landing folders.
* **Silver and gold** are materialized views over bronze: rules are checked *before*
  duplicates are removed (a ``_candidates`` view carries the rules), and duplicates are
  removed with the runner's window, so the rows are the runner's.
* **Expectations** -- a thin adapter: where ``dp`` has ``expect_all*`` (Databricks), warn
  rules become ``expect_all``, drop and quarantine rules ``expect_all_or_drop`` and fail
  rules ``expect_all_or_fail``; where it has none (open-source SDP), the same rules are
  enforced lazily inside the table function (:func:`~finml.pipelines.expectations.enforce`:
  filtered rows, and a fail rule raises when its table is computed). Quarantine tables keep
  the rows the quarantine rules route away, with ``_failed_rules``.
* Every open-source table is declared ``format="delta"`` (SDP's default would be Parquet).

Open-source SDP 4.2 plans ``drop``, ``dropDuplicates`` and ``withWatermark`` eagerly on a
dataset read and fails (``TABLE_OR_VIEW_NOT_FOUND``), so the table functions here select
the contract's columns and deduplicate with a window instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import ArrayType

from finml.pipelines import contracts, gold, landing_parquet
from finml.pipelines.bars import latest_fetch, typed_bars, vendor_daily
from finml.pipelines.contract import TableContract
from finml.pipelines.expectations import enforce, quarantined
from finml.pipelines.ingest import bronze_bars_from_lines
from finml.pipelines.settings import QualitySettings
from finml.pipelines.trades import (
    band_reference,
    bronze_trades_from_lines,
    deduplicate,
    typed_trades,
    with_trade_identity,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameReader, SparkSession
    from pyspark.sql.streaming import DataStreamReader

LANDING_CONF, QUALITY_CONF = "finml.landing", "finml.quality"
# Spark's binaryFile source schema (fixed), which a stream needs up front.
BINARY_FILE_SCHEMA = "path string, modificationTime timestamp, length long, content binary"
TableFunction = Callable[[], "DataFrame"]


def define_from_conf(dp: Any, spark: SparkSession) -> None:
    """:func:`define_pipeline` with the landing path and quality bounds from the pipeline's
    configuration (``finml.landing``; ``finml.quality``: the ``quality`` section as JSON).

    Raises:
        ValueError: ``finml.landing`` is not set.
    """
    landing = spark.conf.get(LANDING_CONF, None)
    if not landing:
        raise ValueError(
            f"pipeline configuration {LANDING_CONF!r}: expected the landing path, got none"
        )
    quality = spark.conf.get(QUALITY_CONF, None)
    settings = QualitySettings.from_section(json.loads(quality) if quality else None)
    define_pipeline(dp, spark, landing, settings)


def define_pipeline(
    dp: Any, spark: SparkSession, landing: str, settings: QualitySettings | None = None
) -> None:
    """Declare the medallion tables on ``dp`` (the DLT module or ``pyspark.pipelines``)."""
    settings = settings or QualitySettings()
    params = settings.sql_params()
    on_databricks = hasattr(dp, "expect_all")

    def read(name: str) -> DataFrame:  # a dataset of this pipeline (or a table)
        return spark.read.table(name)

    declare = _Declarer(dp, on_databricks, params)
    _declare_bronze(declare, spark, landing, on_databricks)
    # vendor bars first: silver trades judge prices against their daily closes
    _declare_silver_bars(declare, read, params)
    _declare_silver_trades(declare, read, params, settings)
    _declare_gold(declare, read)


def _declare_bronze(
    declare: _Declarer, spark: SparkSession, landing: str, on_databricks: bool
) -> None:
    """Bronze trades and bars over the landing zone (Auto Loader streams on Databricks)."""

    def landing_files(folder: str, glob: str, fmt: str) -> DataFrame:
        reader: DataStreamReader | DataFrameReader
        if on_databricks:
            reader = spark.readStream.format("cloudFiles").option("cloudFiles.format", fmt)
        else:
            reader = spark.read.format(fmt)
        reader = reader.option("pathGlobFilter", glob)
        if fmt == "binaryFile":  # a stream needs the (fixed) schema up front
            reader = reader.schema(BINARY_FILE_SCHEMA)
        return reader.load(f"{landing}/{folder}")

    def lines(folder: str, glob: str) -> DataFrame:
        text = landing_files(folder, glob, "text")
        return text.select("value", F.col("_metadata.file_path").alias("_source_file"))

    def bronze_trades() -> DataFrame:
        jsonl = lines("trades", "*.jsonl").transform(bronze_trades_from_lines)
        files = landing_files("trades", "*.parquet", "binaryFile")
        parquet = files.select(F.explode(_decode_parquet()("path", "content")).alias("r"))
        parquet = parquet.select("r.*")
        return _shaped(jsonl.unionByName(parquet).select("*", *_ingest_metadata()), BRONZE)

    def bronze_bars() -> DataFrame:
        rows = lines("bars", "*.csv").transform(bronze_bars_from_lines)
        return _shaped(rows.select("*", *_ingest_metadata()), contracts.BRONZE_BARS)

    declare.table(BRONZE, bronze_trades, streaming=on_databricks)
    declare.table(contracts.BRONZE_BARS, bronze_bars, streaming=on_databricks)


def _declare_silver_bars(
    declare: _Declarer, read: Callable[[str], DataFrame], params: dict[str, str]
) -> None:
    """Silver vendor bars (the latest fetch of each bar) and their quarantine."""
    bar_candidates = f"{contracts.SILVER_BARS.name}_candidates"
    declare.view(bar_candidates, contracts.SILVER_BARS, lambda: typed_bars(read(BARS_BRONZE)))

    def silver_bars() -> DataFrame:
        return latest_fetch(read(bar_candidates))

    def silver_bars_quarantine() -> DataFrame:
        rules = contracts.SILVER_BARS.expectations_for(params)
        rows = quarantined(typed_bars(read(BARS_BRONZE)), rules).select("*", _no_version())
        return _shaped(rows, contracts.SILVER_BARS_QUARANTINE)

    declare.table(contracts.SILVER_BARS, silver_bars)
    declare.table(contracts.SILVER_BARS_QUARANTINE, silver_bars_quarantine)


def _declare_silver_trades(
    declare: _Declarer,
    read: Callable[[str], DataFrame],
    params: dict[str, str],
    settings: QualitySettings,
) -> None:
    """Silver trades: rules on the typed rows, then identity and dedup (as the runner)."""

    def typed() -> DataFrame:
        rows = typed_trades(read(BRONZE.name))
        vendor = vendor_daily(read(contracts.SILVER_BARS.name))
        return typed_trades(read(BRONZE.name), band_reference(rows, vendor, settings))

    candidates = f"{SILVER.name}_candidates"
    declare.view(candidates, SILVER, typed)

    def silver_trades() -> DataFrame:
        return deduplicate(with_trade_identity(read(candidates)))

    def silver_quarantine() -> DataFrame:
        rows = quarantined(typed(), SILVER.expectations_for(params))
        return _shaped(with_trade_identity(rows).select("*", _no_version()), QUARANTINE)

    declare.table(SILVER, silver_trades)
    declare.table(QUARANTINE, silver_quarantine)


def _declare_gold(declare: _Declarer, read: Callable[[str], DataFrame]) -> None:
    """Gold bars: the fail rule stops the update, on Databricks and in open-source SDP."""

    def gold_bars_1m() -> DataFrame:
        return _shaped(read(SILVER.name).transform(gold.bars_1m), contracts.GOLD_BARS_1M)

    def gold_bars_daily() -> DataFrame:
        keys = list(gold.GOLD_BARS_DAILY_KEYS)
        trades = read(contracts.GOLD_BARS_1M.name).transform(gold.daily_from_1m)
        trades = trades.select("*", F.lit(gold.TRADES_SOURCE).alias("source"))
        vendor = vendor_daily(read(contracts.SILVER_BARS.name))
        vendor_only = vendor.join(trades.select(*keys), keys, "left_anti")
        return _shaped(trades.unionByName(vendor_only), contracts.GOLD_BARS_DAILY)

    declare.table(contracts.GOLD_BARS_1M, gold_bars_1m, checked=True)
    declare.table(contracts.GOLD_BARS_DAILY, gold_bars_daily, checked=True)


BRONZE, SILVER = contracts.BRONZE_TRADES, contracts.SILVER_TRADES
QUARANTINE, BARS_BRONZE = contracts.SILVER_QUARANTINE, contracts.BRONZE_BARS.name


def _no_version() -> Any:
    """Quarantine's ``_bronze_version``: NULL (a pipeline has no runner batch)."""
    return F.lit(None).cast("long").alias("_bronze_version")


def _decode_parquet() -> Any:
    """Ingest's decoding of one landing Parquet file (:func:`landing_parquet.decode_file`:
    an unreadable file becomes one quarantinable row) as a UDF of (path, content). Not
    ``mapInArrow``, which reads the frame's columns -- an analysis a declarative table
    function may not trigger (``ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION``)."""
    rows = ArrayType(from_arrow_schema(landing_parquet.BRONZE_ARROW_SCHEMA))
    return F.udf(_parquet_rows, rows)


def _parquet_rows(path: str, content: bytes | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = landing_parquet.decode_file(path, content).to_pylist()
    return rows


def _ingest_metadata() -> list[Any]:
    """Bronze's ``_ingested_at`` and ``_batch_id`` (NULL: a pipeline has no micro-batch id)."""
    return [
        F.current_timestamp().alias("_ingested_at"),
        F.lit(None).cast("long").alias("_batch_id"),
    ]


def _shaped(df: DataFrame, contract: TableContract) -> DataFrame:
    """``df``'s columns of ``contract``, in its order (a projection, not ``drop``: SDP
    plans a projection lazily)."""
    return df.select(*contract.column_names)


class _Declarer:
    """Declares contract tables on ``dp`` with the expectation adapter."""

    def __init__(self, dp: Any, on_databricks: bool, params: dict[str, str]) -> None:
        self.dp, self.on_databricks, self.params = dp, on_databricks, params

    def _options(self, contract: TableContract) -> dict[str, Any]:
        options: dict[str, Any] = {"name": contract.name, "comment": contract.comment}
        if contract.partition_by:
            options["partition_cols"] = list(contract.partition_by)
        if not self.on_databricks:
            options["format"] = "delta"  # never SDP's default (Parquet)
        return options

    def table(
        self,
        contract: TableContract,
        function: TableFunction,
        *,
        streaming: bool = False,
        checked: bool = False,
    ) -> None:
        """A table of ``contract`` computed by ``function``; ``checked``: its own rules apply
        (silver's apply to their ``_candidates`` view)."""
        function = _named(function, contract.name)
        if checked:
            function = self._expectations(contract, function)
        options = self._options(contract)
        if streaming or not hasattr(self.dp, "materialized_view"):
            self.dp.table(**options)(function)
        else:
            self.dp.materialized_view(**options)(function)

    def view(self, name: str, contract: TableContract, function: TableFunction) -> None:
        """A temporary view carrying ``contract``'s rules: the rows that may enter it."""
        function = self._expectations(contract, _named(function, name))
        if hasattr(self.dp, "temporary_view"):
            self.dp.temporary_view(name=name)(function)
        else:
            self.dp.view(name=name)(function)

    def _expectations(self, contract: TableContract, function: TableFunction) -> TableFunction:
        if not self.on_databricks:
            rules = contract.expectations_for(self.params)

            def enforced() -> DataFrame:
                return enforce(function(), rules, contract.name, contract.keys)

            return _named(enforced, function.__name__)
        grouped = contract.dlt_expectations(self.params)
        blocking = {**grouped["drop"], **grouped["quarantine"]}
        for decorate, group in (
            (self.dp.expect_all, grouped["warn"]),
            (self.dp.expect_all_or_drop, blocking),
            (self.dp.expect_all_or_fail, grouped["fail"]),
        ):
            if group:
                function = decorate(group)(function)
        return function


def _named(function: TableFunction, name: str) -> TableFunction:
    function.__name__ = name
    return function
