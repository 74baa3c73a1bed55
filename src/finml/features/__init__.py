"""Features for the anomaly models and the Delta-backed feature store.

``feature_columns(schema_or_df)`` is the shared rule of the ``train_set`` / ``test_set``
contract (:mod:`finml.training_set`): every column except the keys (symbol, ts, trade_id), the
label and names starting with ``_`` is a model feature.
"""

from finml.training_set import KEY_COLUMNS, LABEL_COLUMN, feature_columns

__all__ = ["KEY_COLUMNS", "LABEL_COLUMN", "feature_columns"]
