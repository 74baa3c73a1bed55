"""Landing zone -> bronze: incremental, exactly-once file ingestion.

Each source is a Spark Structured Streaming file stream run with ``availableNow`` and a
checkpoint: Spark remembers which files each micro-batch covered, and each micro-batch is
appended to bronze with a Delta transaction id ``(stream id, batch id)``. A batch whose
commit landed before a crash is skipped when Spark replays it; a batch that did not land is
redone. The stream id is the checkpoint's own UUID, so a deleted checkpoint starts a new
sequence instead of being mistaken for old batches.

Sources (folders of the landing zone):

* ``trades/*.jsonl`` — Finnhub trade messages, one per line -> ``bronze_trades``
* ``trades/*.parquet`` — trades with columns s, p, v, t, c -> ``bronze_trades``, each file
  decoded on its own (:mod:`finml.pipelines.landing_parquet`): an unreadable file becomes
  one quarantinable row instead of failing the batch
* ``bars/*.csv`` — Alpha Vantage OHLCV CSV (``timestamp,open,high,low,close,volume``), the
  symbol taken from the file name (``daily_AAPL.csv``, ``intraday_1min_AAPL.csv``)
  -> ``bronze_bars``
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from finml.log import get_logger
from finml.pipelines import landing_parquet
from finml.pipelines.trades import bronze_trades_from_lines, with_ingest_metadata
from finml.runtime.batches import create_once
from finml.runtime.delta import Txn, collect_small
from finml.runtime.streaming import checkpoint_id, create_checkpoint, restart_reason

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("pipelines.ingest")

BAR_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")
_BINARY_FILE_SCHEMA = "path string, modificationTime timestamp, length long, content binary"
_REPORTS = "_finml_reports"  # per-run batch reports inside a stream's checkpoint


@dataclass(frozen=True)
class StreamSpec:
    name: str
    folder: str
    glob: str
    table: str
    reader: str  # "text" (one row per line) or "binaryFile" (one row per file)
    to_bronze: Callable[[DataFrame], DataFrame]


def bronze_bars_from_lines(lines: DataFrame) -> DataFrame:
    """Alpha Vantage CSV lines -> bronze bars (fields as strings, header lines skipped).

    A line with the wrong number of fields keeps its text in ``_raw`` and gets
    ``_parse_error`` ``wrong_field_count``; a line that is not valid UTF-8 keeps its text
    (bad bytes replaced) with ``invalid_utf8``.
    """
    utf8 = F.is_valid_utf8("value")
    rows = lines.where(~F.lower(F.trim("value")).startswith("timestamp,"))
    rows = rows.where(F.length(F.trim("value")) > 0)
    fields = F.split("value", ",")
    error = F.when(~utf8, F.lit("invalid_utf8")).when(
        F.size(fields) != len(BAR_FIELDS), F.lit("wrong_field_count")
    )
    symbol = F.regexp_extract(
        "_source_file", r"(?:daily|intraday(?:_\w+?)?)_([A-Za-z0-9.\-]+)\.csv$", 1
    )
    return rows.select(
        F.when(symbol != "", symbol).alias("symbol"),
        *[
            F.when(error.isNull(), F.trim(fields[i])).alias(name)
            for i, name in enumerate(BAR_FIELDS)
        ],
        F.make_valid_utf8("value").alias("_raw"),
        error.alias("_parse_error"),
        "_source_file",
    )


def bronze_trades_from_parquet_files(files: DataFrame) -> DataFrame:
    """Landing Parquet files (``binaryFile`` rows: path, content) -> bronze trade rows."""
    return files.select("path", "content").mapInArrow(
        landing_parquet.decode_files, landing_parquet.BRONZE_DDL
    )


STREAMS = (
    StreamSpec(
        "trades_jsonl", "trades", "*.jsonl", "bronze_trades", "text", bronze_trades_from_lines
    ),
    StreamSpec(
        "trades_parquet",
        "trades",
        "*.parquet",
        "bronze_trades",
        "binaryFile",
        bronze_trades_from_parquet_files,
    ),
    StreamSpec("bars_csv", "bars", "*.csv", "bronze_bars", "text", bronze_bars_from_lines),
)


@dataclass(frozen=True)
class IngestResult:
    stream: str
    table: str
    batches: int
    rows: int
    skipped_batches: int


def ingest_landing(
    config: ProjectConfig, spark: SparkSession, tables: DeltaTables
) -> list[IngestResult]:
    """Ingest every new landing file into bronze; returns what each stream did.

    Streams writing different tables run at the same time: each waits on its own start-up,
    file listing and checkpoint commits, so overlapping them hides that latency behind the
    largest stream's work. Streams sharing a table run one after the other (one writer per
    table), in ``STREAMS`` order.
    """
    waves: list[list[StreamSpec]] = []
    for spec in STREAMS:
        if not any((config.landing_dir / spec.folder).glob(spec.glob)):
            continue
        wave = next((w for w in waves if all(s.table != spec.table for s in w)), None)
        if wave is None:
            waves.append(wave := [])
        wave.append(spec)
    results: dict[str, IngestResult] = {}
    for wave in waves:
        for attempt in range(1, _STREAM_ATTEMPTS + 1):
            try:
                results.update(_run_wave(wave, config, spark, tables))
                break
            except Exception as exc:  # Spark raises these from start() or from the query
                reason = restart_reason(exc)
                if attempt == _STREAM_ATTEMPTS or reason is None:
                    raise
                # Another run wrote this batch's offsets first, or a batch function's worker
                # missed its start-up; restarting resumes from the checkpoint, re-runs that
                # batch (its txn makes the write a no-op) and goes on with the files the
                # other run has not planned.
                streams = [s.name for s in wave]
                log.warning("stream_restart", streams=streams, reason=reason, attempt=attempt)
    return [results[spec.name] for spec in STREAMS if spec.name in results]


_STREAM_ATTEMPTS = 5


def _run_wave(
    wave: list[StreamSpec], config: ProjectConfig, spark: SparkSession, tables: DeltaTables
) -> dict[str, IngestResult]:
    running: list[tuple[StreamingQuery, Callable[[], IngestResult]]] = []
    try:  # a query that started is stopped even when a later one fails to start
        for spec in wave:
            folder, checkpoint = config.landing_dir / spec.folder, config.checkpoint_dir / spec.name
            running.append(_start_stream(spec, folder, checkpoint, spark, tables))
        for query, _ in running:
            query.awaitTermination()
    finally:
        for query, _ in running:
            if query.isActive:
                query.stop()
    return {result.stream: result for result in (finish() for _, finish in running)}


def _start_stream(
    spec: StreamSpec, folder: Path, checkpoint: Path, spark: SparkSession, tables: DeltaTables
) -> tuple[StreamingQuery, Callable[[], IngestResult]]:
    table = tables.table(spec.table)
    create_checkpoint(checkpoint)
    # The batch function may run in another process (a Spark Connect server's Python
    # worker): it reports each batch in a file of this run's folder, read by finish().
    reports = checkpoint / _REPORTS / uuid.uuid4().hex
    reports.mkdir(parents=True)
    reader = spark.readStream.option("pathGlobFilter", spec.glob)
    if spec.reader == "binaryFile":  # a stream needs the (fixed) schema up front
        reader = reader.schema(_BINARY_FILE_SCHEMA)
    source = reader.format(spec.reader).load(str(folder))
    if spec.reader == "text":
        source = source.withColumn("_source_file", F.col("_metadata.file_path"))

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        stream_id = checkpoint_id(checkpoint)
        rows = batch.transform(spec.to_bronze).transform(with_ingest_metadata(batch_id))
        # A micro-batch of at most DRIVER_ROWS rows is appended from the driver, where the
        # engine can (see DRIVER_ROWS); a larger one is read again by Spark's write.
        collected = collect_small(rows)
        result = table.append(
            rows if collected is None else collected,
            txn=Txn(f"{spec.name}:{stream_id}", batch_id),
            metadata={"stream": spec.name, "batch_id": str(batch_id)},
        )
        report = {"rows": 0 if result.skipped else int(result.rows or 0), "skipped": result.skipped}
        create_once(reports / f"{batch_id}.json", json.dumps(report) + "\n")
        log.info(
            "bronze_batch",
            stream=spec.name,
            batch_id=batch_id,
            rows=result.rows,
            skipped=result.skipped,
            version=result.version,
        )

    query = (
        source.writeStream.foreachBatch(write_batch)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )

    def finish() -> IngestResult:
        done = [json.loads(path.read_text()) for path in sorted(reports.glob("*.json"))]
        shutil.rmtree(reports, ignore_errors=True)
        return IngestResult(
            spec.name,
            spec.table,
            batches=len(done),
            rows=sum(int(d["rows"]) for d in done),
            skipped_batches=sum(bool(d["skipped"]) for d in done),
        )

    return query, finish
