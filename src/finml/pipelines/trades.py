"""Bronze and silver trade transforms (pure ``DataFrame -> DataFrame``) and silver's rules.

Bronze keeps every landing record as it came: one row per trade of a Finnhub trade message
(``{"type":"trade","data":[{"s","p","v","t","c"}]}``) with its fields as strings, the raw
JSON, unknown fields in ``_rescued_data``, and one row per unreadable line with
``_parse_error`` set — nothing is dropped. Silver types the columns, derives the trade
identity and the exchange session, and is checked by the expectations declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from finml.pipelines.expectations import expect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

EXCHANGE_TZ = "America/New_York"
TRADE_FIELDS = ("s", "p", "v", "t", "c")
_MESSAGE_SCHEMA = "type string, data array<string>"
BRONZE_TRADE_COLUMNS = (*TRADE_FIELDS, "_raw", "_rescued_data", "_parse_error")
# (name, start minute, end minute) of each session in exchange-local time.
SESSIONS = (
    ("pre", 4 * 60, 9 * 60 + 30),
    ("regular", 9 * 60 + 30, 16 * 60),
    ("post", 16 * 60, 20 * 60),
)

SILVER_TRADES = "silver_trades"
expect(
    SILVER_TRADES,
    "parsed_record",
    "_parse_error IS NULL",
    description="the landing line was a readable trade message",
)
expect(SILVER_TRADES, "symbol_present", "symbol IS NOT NULL AND symbol <> ''")
expect(
    SILVER_TRADES,
    "price_numeric",
    "_parse_error IS NOT NULL OR price IS NOT NULL",
    description="p is present and a number",
)
expect(
    SILVER_TRADES,
    "price_finite",
    "price IS NULL OR (NOT isnan(price) AND abs(price) < double('Infinity'))",
)
expect(SILVER_TRADES, "price_positive", "price IS NULL OR isnan(price) OR price > 0")
expect(SILVER_TRADES, "volume_numeric", "_parse_error IS NOT NULL OR volume IS NOT NULL")
expect(
    SILVER_TRADES,
    "volume_positive",
    "volume IS NULL OR (volume > 0 AND NOT isnan(volume) AND volume < double('Infinity'))",
)
expect(SILVER_TRADES, "timestamp_valid", "_parse_error IS NOT NULL OR ts IS NOT NULL")
expect(
    SILVER_TRADES,
    "timestamp_not_future",
    "ts IS NULL OR ts <= _ingested_at + INTERVAL 5 MINUTES",
    description="no trade time later than its ingestion (+5 min clock skew)",
)
expect(
    SILVER_TRADES,
    "conditions_present",
    "_parse_error IS NOT NULL OR conditions IS NOT NULL",
    action="warn",
)


def bronze_trades_from_lines(lines: DataFrame) -> DataFrame:
    """Landing JSON lines (``value``, ``_source_file``) -> one bronze row per trade.

    Keeps unreadable lines (not JSON, not an object, no ``data`` array, unknown message type)
    as rows with ``_parse_error`` and the line in ``_raw``. Pings are not trades and are
    skipped. Ingestion metadata (``_ingested_at``, ``_batch_id``) is added by the caller.
    """
    message = lines.select(
        "value", "_source_file", F.from_json("value", _MESSAGE_SCHEMA).alias("m")
    ).where(F.col("m.type").isNull() | (F.col("m.type") != "ping"))
    error = (
        F.when(F.col("m.type").isNull(), F.lit("malformed_json"))
        .when(F.col("m.type") != "trade", F.concat(F.lit("unexpected_type:"), F.col("m.type")))
        .when(F.col("m.data").isNull(), F.lit("data_not_an_array"))
    )
    exploded = message.select(
        "value",
        "_source_file",
        error.alias("_parse_error"),
        F.explode_outer(F.when(error.isNull(), F.col("m.data"))).alias("element"),
    ).where(F.col("_parse_error").isNotNull() | F.col("element").isNotNull())
    # One parse per element: as a string map, which is exactly bronze's "fields as strings";
    # unknown keys are what is left over (rescued), "c" is parsed from its JSON text.
    fields = F.from_json("element", "map<string,string>")
    known = F.array(*[F.lit(k) for k in TRADE_FIELDS])
    extra = F.map_filter(fields, lambda k, _: ~F.array_contains(known, k))
    return exploded.select(
        *[fields[f].alias(f) for f in ("s", "p", "v", "t")],
        F.from_json(fields["c"], "array<string>").alias("c"),
        F.coalesce("element", "value").alias("_raw"),
        F.when(F.size(extra) > 0, F.to_json(extra)).alias("_rescued_data"),
        "_parse_error",
        "_source_file",
    )


def bronze_trades_from_parquet(trades: DataFrame) -> DataFrame:
    """Landing Parquet trades (columns s, p, v, t, c) -> the bronze shape (fields as strings)."""
    columns = {f.name for f in trades.schema}
    values = {
        f: F.col(f).cast("string") if f in columns else F.lit(None).cast("string")
        for f in TRADE_FIELDS
        if f != "c"
    }
    conditions = F.col("c").cast("array<string>") if "c" in columns else F.lit(None)
    known = [F.col(c) for c in trades.columns if c in TRADE_FIELDS]
    extra = [F.col(c) for c in trades.columns if c not in TRADE_FIELDS and not c.startswith("_")]
    return trades.select(
        *[values[f].alias(f) for f in ("s", "p", "v", "t")],
        conditions.cast("array<string>").alias("c"),
        F.to_json(F.struct(*known)).alias("_raw"),
        (F.to_json(F.struct(*extra)) if extra else F.lit(None).cast("string")).alias(
            "_rescued_data"
        ),
        F.lit(None).cast("string").alias("_parse_error"),
        "_source_file",
    )


def with_ingest_metadata(batch_id: int) -> Callable[[DataFrame], DataFrame]:
    """Add ``_ingested_at`` (now) and ``_batch_id`` to bronze rows."""

    def transform(df: DataFrame) -> DataFrame:
        return df.withColumn("_ingested_at", F.current_timestamp()).withColumn(
            "_batch_id", F.lit(batch_id).cast("long")
        )

    return transform


def session_of(local_ts: Column) -> Column:
    """The trading session of an exchange-local timestamp (pre / regular / post / closed)."""
    minute = F.hour(local_ts) * 60 + F.minute(local_ts)
    weekday = F.dayofweek(local_ts).between(2, 6)
    result = F.lit("closed")
    for name, start, end in reversed(SESSIONS):
        result = F.when(weekday & (minute >= start) & (minute < end), F.lit(name)).otherwise(result)
    return result


def silver_trades(bronze: DataFrame) -> DataFrame:
    """Bronze trades -> typed silver candidates (not yet checked or deduplicated).

    ``trade_id`` is a SHA-256 of the normalised identity (symbol, time, price, volume,
    sorted conditions): the same print delivered twice gets the same id.
    """
    symbol = F.upper(F.trim("s"))
    price = F.expr("try_cast(p AS DOUBLE)")
    volume = F.expr("try_cast(v AS DOUBLE)")
    millis = F.expr("try_cast(t AS BIGINT)")
    ts = F.timestamp_millis(millis)
    local = F.from_utc_timestamp(ts, EXCHANGE_TZ)
    identity = F.concat_ws(
        "|",
        symbol,
        millis.cast("string"),
        price.cast("string"),
        volume.cast("string"),
        F.array_join(F.array_sort(F.coalesce("c", F.array().cast("array<string>"))), ","),
    )
    return bronze.select(
        F.sha2(identity, 256).alias("trade_id"),
        symbol.alias("symbol"),
        price.alias("price"),
        volume.alias("volume"),
        ts.alias("ts"),
        F.to_date(local).alias("trade_date"),
        session_of(local).alias("session"),
        F.col("c").alias("conditions"),
        *TRADE_FIELDS[:4],  # raw s, p, v, t stay for quarantine and bronze measures
        "_raw",
        "_rescued_data",
        "_parse_error",
        "_source_file",
        "_batch_id",
        "_ingested_at",
    )


SILVER_COLUMNS = (
    "trade_id",
    "symbol",
    "price",
    "volume",
    "ts",
    "trade_date",
    "session",
    "conditions",
    "_rescued_data",
    "_source_file",
    "_batch_id",
    "_ingested_at",
)


def deduplicate(candidates: DataFrame, existing_ids: DataFrame) -> DataFrame:
    """Valid candidates minus repeats within the batch and trades already in silver."""
    unique = candidates.dropDuplicates(["trade_id"])
    return unique.join(existing_ids.select("trade_id"), "trade_id", "left_anti")
