"""One Delta table API over two engines (JVM ``delta-spark`` and ``delta-rs``).

>>> tables = DeltaTables.from_config(config, spark)          # doctest: +SKIP
>>> trades = tables.table("bronze_trades")                     # doctest: +SKIP
>>> trades.append(df, txn=Txn("ingest", 7))                    # doctest: +SKIP
>>> trades.merge(updates, MergeSpec(keys=("trade_id",)))       # doctest: +SKIP
>>> trades.read(version=3)                                     # doctest: +SKIP

The facade is :mod:`finml.runtime.delta.tables`; the engines are ``jvm`` (delta-spark) and
``rs`` (delta-rs), behind :class:`~finml.runtime.delta.base.DeltaEngine`.
"""

from finml.names import TableName
from finml.runtime.delta.base import (
    DRIVER_ROWS,
    HistoryEntry,
    MergeSpec,
    Txn,
    WriteResult,
    collect_small,
    utc_literal,
    within,
)
from finml.runtime.delta.tables import DeltaTables, Table, make_engine

__all__ = [
    "DRIVER_ROWS",
    "DeltaTables",
    "HistoryEntry",
    "MergeSpec",
    "Table",
    "TableName",
    "Txn",
    "WriteResult",
    "collect_small",
    "make_engine",
    "utc_literal",
    "within",
]
