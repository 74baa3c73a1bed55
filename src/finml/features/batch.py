"""The feature rows of one small incremental batch, computed on the driver.

The scheduled features stage recomputes, per symbol, every trade from the first trading day
with a new trade onward, with ``lookback_rows`` earlier trades before it (its *context*).
For a batch of at most ``DRIVER_ROWS`` context rows (a day of trades) the context is
collected as Arrow and :func:`finml.features.frame.features_frame` runs over it per symbol
-- the vectorised definitions the Spark build runs per (symbol, day) chunk -- instead of a
grouped ``applyInPandas`` over chunks with halos, which costs a few Spark jobs and Python
workers for a thousand rows. Each row sees only its own and earlier trades of its symbol,
all of which the context holds, so both give the same features.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd
import pyarrow as pa

from finml.features.frame import KEYS, feature_names, features_frame
from finml.features.settings import FeatureSettings

# The context columns :func:`batch_features` reads (price and volume as double).
CONTEXT_COLUMNS = ("symbol", "ts", "trade_id", "price", "volume", "trade_date", "session")


def batch_context(
    rows: pa.Table, from_day: Mapping[str, date], lookback_rows: int, *, complete: bool = False
) -> pa.Table | None:
    """A batch's context from ``rows`` (silver trades, :data:`CONTEXT_COLUMNS`, of every
    day from some day before the earliest ``from_day``): per symbol of ``from_day``, its
    trades on or after its day plus the ``lookback_rows`` latest before it (by time, then
    trade id). None when ``rows`` holds fewer earlier trades than that for a symbol and
    is not ``complete`` (all of silver): the caller reads further back."""
    rows = rows.select(list(CONTEXT_COLUMNS))
    frame = rows.to_pandas()
    first = frame["symbol"].map(dict(from_day))
    frame, first = frame[first.notna()], first[first.notna()]
    before = frame["trade_date"] < first
    halo = (
        frame[before]
        .sort_values(["symbol", "ts", "trade_id"])
        .groupby("symbol")
        .tail(lookback_rows)
    )
    held = halo.groupby("symbol").size()
    if not complete and any(int(held.get(symbol, 0)) < lookback_rows for symbol in from_day):
        return None
    context = pd.concat([frame[~before], halo], ignore_index=True)
    return pa.Table.from_pandas(context, schema=rows.schema, preserve_index=False)


def feature_row_schema(settings: FeatureSettings) -> pa.Schema:
    """A feature row as the Spark build gives it: keys, ``_trade_date``, the features."""
    return pa.schema(
        [
            ("symbol", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("trade_id", pa.string()),
            ("_trade_date", pa.date32()),
            *[(name, pa.float64()) for name in feature_names(settings)],
        ]
    )


def batch_features(
    context: pa.Table, from_day: Mapping[str, date], settings: FeatureSettings
) -> pa.Table:
    """The features of ``context``'s trades (:data:`CONTEXT_COLUMNS`) on or after their
    symbol's ``from_day`` (the earlier ones are lookback only), as
    :func:`feature_row_schema` rows sorted by the keys; NaN features are null, as the
    Spark build writes them."""
    frame = context.select(list(CONTEXT_COLUMNS)).to_pandas()
    rows = features_frame(frame, settings)
    first = rows["symbol"].map(dict(from_day))
    kept = rows[first.notna() & (rows["_trade_date"] >= first)].reset_index(drop=True)
    schema = feature_row_schema(settings)
    return pa.Table.from_pandas(
        kept[[*KEYS, "_trade_date", *feature_names(settings)]],
        schema=schema,
        preserve_index=False,
    )
