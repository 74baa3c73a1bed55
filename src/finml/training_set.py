"""The column contract of the training sets (``train_set`` / ``test_set``), shared by the
feature store that writes them and the models that read them: every column except the keys
(symbol, ts, trade_id), the label and names starting with ``_`` is a model feature.
"""

from __future__ import annotations

from typing import Any

KEY_COLUMNS = ("symbol", "ts", "trade_id")
LABEL_COLUMN = "label"


def feature_columns(schema_or_df: Any) -> list[str]:
    """The model feature columns of a Spark/pandas/Arrow frame or schema, in order.

    Takes a Spark ``DataFrame`` or ``StructType``, a pandas ``DataFrame``, an Arrow table or
    schema, or any iterable of column names; returns the names that are neither keys, the
    label, nor ``_``-prefixed metadata.
    """
    names = _names(schema_or_df)
    excluded = {*KEY_COLUMNS, LABEL_COLUMN}
    return [n for n in names if n not in excluded and not n.startswith("_")]


def _names(obj: Any) -> list[str]:
    if hasattr(obj, "fieldNames"):  # Spark StructType
        return list(obj.fieldNames())
    if hasattr(obj, "schema") and hasattr(obj.schema, "fieldNames"):  # Spark DataFrame
        return list(obj.schema.fieldNames())
    if hasattr(obj, "column_names"):  # Arrow table
        return list(obj.column_names)
    if hasattr(obj, "names"):  # Arrow schema
        return list(obj.names)
    if hasattr(obj, "columns"):  # pandas
        return [str(c) for c in obj.columns]
    return [str(n) for n in obj]
