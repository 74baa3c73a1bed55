"""Bronze and silver trade transforms (pure ``DataFrame -> DataFrame``).

Bronze keeps every landing record as it came: one row per trade of a Finnhub trade message
(``{"type":"trade","data":[{"s","p","v","t","c"}]}``) with its fields as strings, the raw
JSON, unknown fields in ``_rescued_data``, and one row per unreadable line with
``_parse_error`` set — nothing is dropped. Silver types the columns, derives the trade
identity and the exchange session, and is checked by the rules of its contract
(:data:`finml.pipelines.contracts.SILVER_TRADES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from finml.pipelines import contracts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.pipelines.settings import QualitySettings

EXCHANGE_TZ = "America/New_York"
TRADE_FIELDS = ("s", "p", "v", "t", "c")
_MESSAGE_SCHEMA = "type string, data array<string>"
_TYPED_MESSAGE_SCHEMA = (
    "type string, data array<struct<s:string,p:string,v:string,t:string,c:array<string>>>"
)
_FLAT_OBJECT = r"\{[^{}]*\}"  # an object with no object inside it
# (name, start minute, end minute) of each session in exchange-local time.
SESSIONS = (
    ("pre", 4 * 60, 9 * 60 + 30),
    ("regular", 9 * 60 + 30, 16 * 60),
    ("post", 16 * 60, 20 * 60),
)

# Silver's rules, keys and columns are declared in its contract (finml.pipelines.contracts).
SILVER_TRADES = contracts.SILVER_TRADES.name


def bronze_trades_from_lines(lines: DataFrame) -> DataFrame:
    """Landing JSON lines (``value``, ``_source_file``) -> one bronze row per trade.

    Keeps unreadable lines (not JSON, not an object, no ``data`` array, unknown message type)
    as rows with ``_parse_error`` and the line in ``_raw``. Pings are not trades and are
    skipped. Ingestion metadata (``_ingested_at``, ``_batch_id``) is added by the caller.

    Each line is parsed once, typed (every field read as its JSON text). A line is *regular*
    when that parse accounts for all of it: a trade message whose elements are flat objects
    holding only known, non-null keys (checked by counting braces and ``"key":`` tokens).
    Its elements' texts are then cut out of the line verbatim as ``_raw``. Any other line --
    unknown keys to rescue, nested values, nulls, NaN tokens, broken JSON -- takes the
    general path, which parses each element into a string map (several times slower, but
    only for those rare lines; ``CASE`` evaluates one branch per line).
    """
    staged = _typed_lines(lines)
    message = F.from_json("value", _MESSAGE_SCHEMA)  # general path only
    staged = _with_parse_error(staged, message)
    arrays = _element_arrays(staged, message)
    exploded = arrays.select("*", F.posexplode_outer("_elements").alias("_pos", "e")).where(
        F.col("_parse_error").isNotNull() | F.col("e").isNotNull()
    )
    return exploded.select(
        *[F.col("e")[f].alias(f) for f in TRADE_FIELDS],
        F.coalesce(F.get(F.col("_raws"), F.col("_pos")), F.col("value")).alias("_raw"),
        F.get(F.col("_rescued"), F.col("_pos")).alias("_rescued_data"),
        "_parse_error",
        "_source_file",
    )


def _typed_lines(lines: DataFrame) -> DataFrame:
    """Each line with its typed parse ``m``, its flat objects' texts ``_flat``, whether it is
    ``_regular``, and its repaired text in ``_invalid`` if it is not valid UTF-8."""
    typed = F.from_json("value", _TYPED_MESSAGE_SCHEMA, {"allowNonNumericNumbers": "false"})
    flat = F.regexp_extract_all("value", F.lit(_FLAT_OBJECT), F.lit(0))
    # A line that is not valid UTF-8 is kept (its bytes made valid, U+FFFD for each bad
    # sequence) as an invalid_utf8 record; it is never parsed, and no invalid string reaches
    # a Parquet file (whose statistics readers could not decode).
    utf8 = F.is_valid_utf8("value")
    lines = lines.select(
        F.when(utf8, F.col("value")).alias("value"),
        "_source_file",
        F.when(~utf8, F.make_valid_utf8("value")).alias("_invalid"),
    )
    parsed = lines.select(
        "value", "_source_file", "_invalid", typed.alias("m"), flat.alias("_flat")
    )
    regular = F.coalesce(_is_regular(F.col("value"), F.col("m"), F.col("_flat")), F.lit(False))
    return parsed.select(
        "value", "_source_file", "_invalid", "m", "_flat", regular.alias("_regular")
    )


def _with_parse_error(staged: DataFrame, message: Column) -> DataFrame:
    """``staged`` with ``_parse_error``: why a line that is not regular holds no trades
    (NULL for trade messages and pings)."""
    error = (
        F.when(F.col("_regular"), F.lit(None).cast("string"))
        .when(F.col("_invalid").isNotNull(), F.lit("invalid_utf8"))
        .when(message["type"].isNull(), F.lit("malformed_json"))
        .when(message["type"] == "ping", F.lit(None).cast("string"))
        .when(message["type"] != "trade", F.concat(F.lit("unexpected_type:"), message["type"]))
        .when(message["data"].isNull(), F.lit("data_not_an_array"))
    )
    return staged.select(
        "value", "_source_file", "_invalid", "_regular", "m", "_flat", error.alias("_parse_error")
    )


def _element_arrays(staged: DataFrame, message: Column) -> DataFrame:
    """Each line's trade elements, their raw texts and rescued fields, as arrays (from the
    typed parse when regular, else from the general one)."""
    is_ping = F.col("m.type") == "ping"  # a ping parses as regular JSON; it has no trades
    general = F.col("_parse_error").isNull() & ~F.coalesce(is_ping, F.lit(False))
    elements = F.when(F.col("_regular"), F.col("m.data")).when(
        general, F.transform(message["data"], _general_fields)
    )
    raws = F.when(F.col("_regular"), F.col("_flat")).when(general, message["data"])
    rescued = F.when(~F.col("_regular") & general, F.transform(message["data"], _rescued))
    return staged.select(
        F.coalesce("value", "_invalid").alias("value"),
        "_source_file",
        "_parse_error",
        elements.alias("_elements"),
        raws.alias("_raws"),
        rescued.alias("_rescued"),
    )


def _is_regular(value: Column, message: Column, flat: Column) -> Column:
    """True when the typed parse of a line lost nothing (see :func:`bronze_trades_from_lines`).

    Every JSON key is followed by a ``:``, so a line holds at least as many colons as keys;
    exactly 2 (``type``, ``data``) plus the non-null known fields means no unknown, null,
    repeated or nested key. ``n + 1`` braces of each kind and ``n`` flat objects
    (:data:`_FLAT_OBJECT` matches, ``flat``) mean the elements are the only objects inside
    the message, none is null and no string holds a brace, so ``flat`` is exactly their
    text. Everything here is compiled: counting by splitting is far cheaper per line than
    a regex or ``translate``, and :func:`_non_null` needs no lambda (an interpreted
    ``array_compact`` per field cost more than the parse itself).
    """
    data = message["data"]
    n = F.size(data)
    present = [_non_null(data[f]) for f in TRADE_FIELDS]
    return (
        (message["type"] == "trade")
        & (n > 0)
        & (F.size(flat) == n)
        & (_occurrences(value, r"\{") == n + 1)
        & (_occurrences(value, r"\}") == n + 1)
        & (_occurrences(value, ":") == sum(present, F.lit(2)))
    )


def _non_null(values: Column) -> Column:
    """How many elements of ``values`` are not null, without a lambda: sorted ascending,
    the nulls come first, so the smallest value's first position is one past them."""
    nulls = F.coalesce(
        F.array_position(F.sort_array(values), F.array_min(values)) - 1, F.size(values)
    )
    return F.size(values) - nulls


def _occurrences(text: Column, pattern: str) -> Column:
    """How many times the single-character ``pattern`` occurs in ``text``."""
    return F.size(F.split(text, pattern, -1)) - 1


def _general_map(element: Column) -> Column:
    return F.from_json(element, "map<string,string>")


def _general_fields(element: Column) -> Column:
    """One element's text -> its known fields as strings, via a string map."""
    fields = _general_map(element)
    return F.struct(
        *[fields[f].alias(f) for f in ("s", "p", "v", "t")],
        F.from_json(fields["c"], "array<string>").alias("c"),
    )


def _rescued(element: Column) -> Column:
    """One element's text -> its unknown keys as a JSON object (null when none)."""
    known = F.array(*[F.lit(k) for k in TRADE_FIELDS])
    extra = F.map_filter(_general_map(element), lambda k, _: ~F.array_contains(known, k))
    return F.when(F.size(extra) > 0, F.to_json(extra))


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
    """Bronze trades -> typed silver candidates (not yet checked or deduplicated):
    :func:`typed_trades` then :func:`with_trade_identity`."""
    return with_trade_identity(typed_trades(bronze))


def typed_trades(bronze: DataFrame, reference: DataFrame | None = None) -> DataFrame:
    """Bronze trades -> the typed columns silver's expectations read (casts only).

    Returns symbol (as sent: never trimmed or upper-cased), price, volume, ts, conditions,
    ``t_ms`` (t as a whole number), ``_ref_price`` (the symbol's reference price from
    ``reference`` -- columns symbol, ``_ref_price`` -- else NULL), the raw s, p, v, t (kept
    for quarantine and bronze measures) and bronze's ``_`` columns. ``ts`` is set only for
    a ``t_ms`` in the millisecond range, so no magnitude can overflow a timestamp.
    """
    t_ms = F.expr("try_cast(t AS BIGINT)")
    in_millis = t_ms.between(100_000_000_000, 99_999_999_999_999)
    typed = bronze.select(
        F.col("s").alias("symbol"),
        F.expr("try_cast(p AS DOUBLE)").alias("price"),
        F.expr("try_cast(v AS DOUBLE)").alias("volume"),
        F.when(in_millis, F.timestamp_millis(t_ms)).alias("ts"),
        F.col("c").alias("conditions"),
        t_ms.alias("t_ms"),
        *TRADE_FIELDS[:4],
        "_raw",
        "_rescued_data",
        "_parse_error",
        "_source_file",
        "_batch_id",
        "_ingested_at",
    )
    if reference is None:
        return typed.withColumn("_ref_price", F.lit(None).cast("double"))
    return typed.join(F.broadcast(reference), "symbol", "left")


_PLAUSIBLE = "price > 0 AND price < double('Infinity') AND price <= {max_price}"


def band_reference(
    typed: DataFrame, history: DataFrame | None, settings: QualitySettings
) -> DataFrame:
    """Per symbol, the price ``price_within_band`` compares with.

    The median of the symbol's last ``settings.band_reference_days`` daily closes in
    ``history`` (daily bars: symbol, trade_date, close; None when there are none), else the
    median of the symbol's plausible prices in ``typed`` (:func:`typed_trades` rows). The
    runner passes gold's daily bars as planned, the declarative pipeline the vendor's.
    Returns symbol, ``_ref_price``.
    """
    batch = (
        typed.where(_PLAUSIBLE.format_map(settings.sql_params()))
        .groupBy("symbol")
        .agg(F.median("price").alias("_batch_ref"))
    )
    if history is None:
        return batch.select("symbol", F.col("_batch_ref").alias("_ref_price"))
    recent = Window.partitionBy("symbol").orderBy(F.col("trade_date").desc())
    closes = (
        history.where("close > 0")
        .select("symbol", "close", F.row_number().over(recent).alias("_n"))
        .where(F.col("_n") <= settings.band_reference_days)
        .groupBy("symbol")
        .agg(F.median("close").alias("_history_ref"))
    )
    return batch.join(closes, "symbol", "full").select(
        "symbol", F.coalesce("_history_ref", "_batch_ref").alias("_ref_price")
    )


def with_trade_identity(typed: DataFrame) -> DataFrame:
    """Add ``trade_id``, ``trade_date`` and ``session`` to :func:`typed_trades` rows (after
    the other columns: callers select a contract's columns in its order).

    These are the costly derivations (hashing, time zones), so the silver stage applies
    them after the expectations have split the rows. ``trade_id`` is a SHA-256 of the
    normalised identity (symbol, time, price, volume, sorted conditions): the same print
    delivered twice gets the same id.
    """
    local = F.from_utc_timestamp("ts", EXCHANGE_TZ)
    identity = F.concat_ws(
        "|",
        "symbol",
        F.unix_millis("ts").cast("string"),
        F.col("price").cast("string"),
        F.col("volume").cast("string"),
        # sort_array, not array_sort: the latter's default comparator is a lambda, which
        # would keep this whole projection out of whole-stage codegen. (array_join skips
        # NULLs, so where they sort does not matter.)
        F.array_join(F.sort_array(F.coalesce("conditions", F.array().cast("array<string>"))), ","),
    )
    # "*" rather than the input's column list: reading ``typed.columns`` would analyse the
    # plan, which a declarative pipeline's table function may not do.
    return typed.select(
        "*",
        F.sha2(identity, 256).alias("trade_id"),
        F.to_date(local).alias("trade_date"),
        session_of(local).alias("session"),
    )


SILVER_COLUMNS = contracts.SILVER_TRADES.column_names


def deduplicate(candidates: DataFrame, existing_ids: DataFrame | None = None) -> DataFrame:
    """Valid candidates minus repeats within the batch and trades already in silver; returns
    silver's columns (:data:`SILVER_COLUMNS`).

    Of the copies of one trade in the batch the one from the earliest micro-batch (then
    source file) is kept. A window, not ``dropDuplicates``: its ``first()`` over every string
    column aggregates by sorting twice (before and after the shuffle); the window sorts once.
    (Both run in a declarative pipeline too, where ``dropDuplicates`` and ``drop`` on a
    dataset read fail: they are planned eagerly.)
    """
    first = Window.partitionBy("trade_id").orderBy("_batch_id", "_source_file")
    unique = (
        candidates.select("*", F.row_number().over(first).alias("_copy"))
        .where(F.col("_copy") == 1)
        .select(*SILVER_COLUMNS)
    )
    if existing_ids is None:
        return unique
    return unique.join(existing_ids.select("trade_id"), "trade_id", "left_anti")
