"""The medallion's tables, one :class:`~finml.pipelines.contract.TableContract` each.

This is the only place a medallion table's name, columns, keys, partitioning, comment and
rules are written down; the runner, the DLT/SDP binding, the Unity Catalog DDL
(``sql/20_medallion_tables.sql``) and the dashboard read them from here. Rule conditions are
SQL over the table's typed candidate rows; ``{param}`` names a bound of the ``quality``
config section (:meth:`~finml.pipelines.settings.QualitySettings.sql_params`).
"""

from __future__ import annotations

from finml.pipelines.contract import FAILED_RULES, Column, Expectation, TableContract

C = Column
_STRING, _DOUBLE, _LONG, _TS, _DATE = "STRING", "DOUBLE", "BIGINT", "TIMESTAMP", "DATE"
_STRINGS = "ARRAY<STRING>"

_LINEAGE = (
    C("_source_file", _STRING, "landing file the record came from"),
    C("_ingested_at", _TS, "when the record entered bronze"),
    C("_batch_id", _LONG, "ingestion micro-batch (NULL when written by the declarative pipeline)"),
)
_QUARANTINE = (
    C(FAILED_RULES, _STRINGS, "names of the rules the row failed"),
    C("_bronze_version", _LONG, "last bronze version of the runner batch (NULL in the pipeline)"),
)

# ---- trades --------------------------------------------------------------------------------
BRONZE_TRADES = TableContract(
    name="bronze_trades",
    layer="bronze",
    comment="Raw trades: one row per landing record, fields as sent, nothing dropped",
    columns=(
        C("s", _STRING, "symbol as sent"),
        C("p", _STRING, "price as sent"),
        C("v", _STRING, "volume as sent"),
        C("t", _STRING, "epoch milliseconds as sent"),
        C("c", _STRINGS, "trade conditions"),
        C("_raw", _STRING, "the record as it arrived"),
        C("_rescued_data", _STRING, "fields outside the schema, as JSON"),
        C("_parse_error", _STRING, "why the record could not be read (NULL when it could)"),
        _LINEAGE[0],
        _LINEAGE[1],
        _LINEAGE[2],
    ),
    written_by="ingestion",
)

# A finite, positive price (the plausibility rules judge only such prices).
_PRICED = "(price > 0 AND price < double('Infinity'))"
_E = Expectation
SILVER_TRADES = TableContract(
    name="silver_trades",
    layer="silver",
    comment="Typed, checked, deduplicated trades",
    columns=(
        C("trade_id", _STRING, "SHA-256 of symbol, time, price, volume, sorted conditions"),
        C("symbol", _STRING),
        C("price", _DOUBLE),
        C("volume", _DOUBLE),
        C("ts", _TS, "trade time (UTC)"),
        C("trade_date", _DATE, "New York date"),
        C("session", _STRING, "pre, regular, post or closed"),
        C("conditions", _STRINGS),
        C("_rescued_data", _STRING),
        *_LINEAGE,
    ),
    keys=("trade_id",),
    expectations=(
        _E(
            "parsed_record",
            "_parse_error IS NULL",
            description="the landing line was a readable trade message",
        ),
        _E("symbol_present", "symbol IS NOT NULL AND symbol <> ''"),
        _E(
            "symbol_format",
            "symbol IS NULL OR symbol = '' OR symbol RLIKE {symbol_pattern}",
            description="the symbol matches quality.symbol_pattern (it is stored as sent)",
        ),
        _E(
            "price_numeric",
            "_parse_error IS NOT NULL OR price IS NOT NULL",
            description="p is present and a number",
        ),
        _E(
            "price_finite",
            "price IS NULL OR (NOT isnan(price) AND abs(price) < double('Infinity'))",
        ),
        _E("price_positive", "price IS NULL OR isnan(price) OR price > 0"),
        _E(
            "price_below_max",
            f"NOT coalesce({_PRICED}, false) OR price <= {{max_price}}",
            description="price at most quality.max_price",
        ),
        _E(
            "price_within_band",
            f"NOT coalesce({_PRICED}, false) OR _ref_price IS NULL "
            "OR price BETWEEN _ref_price / {price_band} AND _ref_price * {price_band}",
            description="price within quality.price_band of the symbol's recent prices",
        ),
        _E("volume_numeric", "_parse_error IS NOT NULL OR volume IS NOT NULL"),
        _E(
            "volume_in_range",
            "volume IS NULL OR (NOT isnan(volume) AND volume >= 0 AND volume <= {max_volume})",
            description="volume finite, at least 0 and at most quality.max_volume",
        ),
        _E("timestamp_valid", "_parse_error IS NOT NULL OR t_ms IS NOT NULL"),
        _E(
            "timestamp_in_milliseconds",
            "t_ms IS NULL OR t_ms BETWEEN 100000000000 AND 99999999999999",
            description="t is epoch milliseconds (seconds or micro/nanoseconds are never rescaled)",
        ),
        _E(
            "timestamp_after_floor",
            "ts IS NULL OR ts >= {earliest_date}",
            description="no trade before quality.earliest_date",
        ),
        _E(
            "timestamp_not_future",
            "ts IS NULL OR ts <= _ingested_at + INTERVAL {future_skew_minutes} MINUTES",
            description="no trade time later than its ingestion (+ quality.future_skew_minutes)",
        ),
        _E(
            "conditions_present",
            "_parse_error IS NOT NULL OR conditions IS NOT NULL",
            action="warn",
        ),
    ),
    written_by="stage silver_trades",
)

SILVER_QUARANTINE = TableContract(
    name="silver_quarantine",
    layer="silver",
    comment="Trades failing a quarantine rule of silver_trades, with the rules they failed",
    columns=(
        *SILVER_TRADES.columns[:8],
        C("t_ms", _LONG, "t as a whole number"),
        C("s", _STRING),
        C("p", _STRING),
        C("v", _STRING),
        C("t", _STRING),
        C("_raw", _STRING),
        C("_rescued_data", _STRING),
        C("_parse_error", _STRING),
        _LINEAGE[0],
        _LINEAGE[2],
        _LINEAGE[1],
        C("_ref_price", _DOUBLE, "the price the band rule compared with"),
        *_QUARANTINE,
    ),
    quarantine_of="silver_trades",
    written_by="stage silver_trades",
)

# ---- vendor bars ---------------------------------------------------------------------------
_PRICES = tuple(C(p, _DOUBLE) for p in ("open", "high", "low", "close"))
BRONZE_BARS = TableContract(
    name="bronze_bars",
    layer="bronze",
    comment="Raw vendor bars: one row per CSV line, fields as text, symbol from the file name",
    columns=(
        C("symbol", _STRING),
        *(C(f, _STRING) for f in ("timestamp", "open", "high", "low", "close", "volume")),
        C("_raw", _STRING),
        C("_parse_error", _STRING),
        _LINEAGE[0],
        _LINEAGE[1],
        _LINEAGE[2],
    ),
    written_by="ingestion",
)

_BAR_TYPED = (
    C("symbol", _STRING),
    C("interval", _STRING, "1d or the intraday interval"),
    C("bar_start", _TS, "bar start (UTC)"),
    C("bar_date", _DATE, "New York date"),
    *_PRICES,
    C("volume", _DOUBLE),
)
SILVER_BARS = TableContract(
    name="silver_bars",
    layer="silver",
    comment="Typed vendor bars, one per symbol, interval and start; the latest fetch wins",
    columns=(*_BAR_TYPED, _LINEAGE[0], _LINEAGE[2], _LINEAGE[1]),
    keys=("symbol", "interval", "bar_start"),
    expectations=(
        _E(
            "parsed_record",
            "_parse_error IS NULL",
            description="the CSV line had the six fields and was valid UTF-8",
        ),
        _E("symbol_present", "symbol IS NOT NULL AND symbol <> ''"),
        _E("symbol_format", "symbol IS NULL OR symbol = '' OR symbol RLIKE {symbol_pattern}"),
        _E("interval_known", "interval IS NOT NULL"),
        _E(
            "bar_time_valid",
            "_parse_error IS NOT NULL OR bar_start IS NOT NULL",
            description="timestamp is a date (daily) or a date and time (intraday)",
        ),
        _E("bar_after_floor", "bar_date IS NULL OR bar_date >= {earliest_date}"),
        _E(
            "bar_not_future",
            "bar_start IS NULL OR bar_start <= _ingested_at + INTERVAL {future_skew_minutes} "
            "MINUTES",
        ),
        _E(
            "prices_numeric",
            "_parse_error IS NOT NULL OR (open IS NOT NULL AND high IS NOT NULL "
            "AND low IS NOT NULL AND close IS NOT NULL)",
            description="open, high, low and close are present and numbers",
        ),
        _E(
            "prices_positive",
            "coalesce(least(open, high, low, close) > 0, true) "
            "AND coalesce(greatest(open, high, low, close) <= {max_price}, true)",
            description="every price finite, > 0 and at most quality.max_price",
        ),
        _E(
            "high_low_consistent",
            "open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL "
            "OR (high >= greatest(open, close) AND low <= least(open, close))",
            description="high >= max(open, close) and low <= min(open, close)",
        ),
        _E(
            "volume_in_range",
            "_parse_error IS NOT NULL OR "
            "(volume IS NOT NULL AND NOT isnan(volume) AND volume >= 0 "
            "AND volume <= {max_volume})",
        ),
    ),
    written_by="stage silver_bars",
)

SILVER_BARS_QUARANTINE = TableContract(
    name="silver_bars_quarantine",
    layer="silver",
    comment="Vendor bars failing a quarantine rule of silver_bars, with the rules they failed",
    columns=(
        *_BAR_TYPED,
        C("timestamp", _STRING, "the CSV timestamp as sent"),
        C("_raw", _STRING),
        C("_parse_error", _STRING),
        _LINEAGE[0],
        _LINEAGE[2],
        _LINEAGE[1],
        *_QUARANTINE,
    ),
    quarantine_of="silver_bars",
    written_by="stage silver_bars",
)

# ---- gold ----------------------------------------------------------------------------------
# A bar's extremes bound its open and close, and volume is never negative (a minute of
# zero-volume prints is a real, if empty, bar: its vwap is NULL). Action fail: a bar
# breaking it stops the run (runner) or the update (DLT, SDP) before anything is written.
_OHLC = _E(
    "ohlc_consistent",
    "low <= least(open, close) AND high >= greatest(open, close) AND volume >= 0",
    action="fail",
    description="low <= min(open, close), high >= max(open, close), volume >= 0",
)
_BAR_STATS = (
    *_PRICES,
    C("volume", _DOUBLE),
    C("vwap", _DOUBLE, "NULL when volume is 0 (or for vendor bars)"),
    C("trade_count", _LONG),
    C("realized_vol", _DOUBLE, "square root of the summed squared log returns"),
)
GOLD_BARS_1M = TableContract(
    name="gold_bars_1m",
    layer="gold",
    comment="1-minute OHLCV bars per symbol, from silver trades",
    columns=(
        C("symbol", _STRING),
        C("window_start", _TS),
        C("window_end", _TS),
        C("trade_date", _DATE),
        C("session", _STRING, "session of the first trade of the bar"),
        *_BAR_STATS,
        C("first_ts", _TS),
        C("last_ts", _TS),
    ),
    keys=("symbol", "window_start"),
    expectations=(_OHLC,),
    written_by="stage gold_bars",
)

GOLD_BARS_DAILY = TableContract(
    name="gold_bars_daily",
    layer="gold",
    comment="Daily OHLCV bars per symbol: rolled up from 1-minute bars, else from the vendor",
    columns=(
        C("symbol", _STRING),
        C("trade_date", _DATE),
        *_BAR_STATS,
        C("regular_open", _DOUBLE, "first price of the regular session"),
        C("regular_close", _DOUBLE, "last price of the regular session"),
        C("first_ts", _TS),
        C("last_ts", _TS),
        C("source", _STRING, "trades, or vendor for a day without trades"),
    ),
    keys=("symbol", "trade_date"),
    expectations=(_OHLC,),
    written_by="stages silver_bars (vendor) and gold_bars (trades)",
)

MEDALLION: tuple[TableContract, ...] = (
    BRONZE_TRADES,
    BRONZE_BARS,
    SILVER_TRADES,
    SILVER_QUARANTINE,
    SILVER_BARS,
    SILVER_BARS_QUARANTINE,
    GOLD_BARS_1M,
    GOLD_BARS_DAILY,
)
_BY_NAME = {c.name: c for c in MEDALLION}


def contract(name: str) -> TableContract:
    """The contract of medallion table ``name``.

    Raises:
        KeyError: no medallion table has that name (the message lists them).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        known = sorted(_BY_NAME)
        raise KeyError(f"table {name!r}: expected a medallion table, one of {known}") from None


def find(name: str) -> TableContract | None:
    """The contract of medallion table ``name``, or None for any other table."""
    return _BY_NAME.get(name)


def deciding_rules(table: TableContract) -> tuple[Expectation, ...]:
    """The rules that decide a table's rows: its own, or for a quarantine table the
    ``quarantine`` rules of the table it quarantines for."""
    if table.quarantine_of is None:
        return table.expectations
    source = contract(table.quarantine_of)
    return tuple(r for r in source.expectations if r.action == "quarantine")


def expectations_for(table: str, params: dict[str, str] | None = None) -> tuple[Expectation, ...]:
    """The rules of medallion table ``table`` with ``params`` filled in (see
    :meth:`TableContract.expectations_for`)."""
    return contract(table).expectations_for(params)
