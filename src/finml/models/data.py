"""Training data for the tournament: ``train_set`` / ``test_set`` read from Delta into
pandas (time-ordered), checked against the feature-store contract, and cut into walk-forward
folds."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import DataError, SchemaMismatch
from finml.training_set import feature_columns as shared_feature_columns

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables

TRAIN_SET, TEST_SET = "train_set", "test_set"
KEYS = ("symbol", "ts", "trade_id")
LABEL, VERSION_COLUMN = "label", "_feature_table_version"


def feature_columns(columns: Any) -> tuple[str, ...]:
    """Feature columns by the contract (:mod:`finml.training_set`): all but keys, ``label``
    and ``_``-prefixed names."""
    return tuple(shared_feature_columns(columns))


@dataclass(frozen=True)
class Split:
    """One labelled set, sorted by (ts, trade_id)."""

    table: str
    frame: pd.DataFrame
    features: tuple[str, ...]
    feature_table_version: int | None
    # where the rows were read: the Delta table's full name, location and version (the
    # MLflow dataset source of the runs that use them); None for an in-memory frame
    source: tuple[str, str, int] | None = None

    @property
    def y(self) -> np.ndarray:
        return self.frame[LABEL].to_numpy(dtype=np.int64)

    @property
    def window(self) -> str:
        """``first_ts/last_ts`` in ISO form (the data-window lineage tag)."""
        ts = self.frame["ts"]
        return f"{ts.min().isoformat()}/{ts.max().isoformat()}" if len(ts) else ""


def split_from_frame(frame: pd.DataFrame, table: str = "frame") -> Split:
    """Validate ``frame`` against the contract and wrap it as a :class:`Split`.

    Raises:
        SchemaMismatch: a key/label column is missing or a feature is not numeric.
        DataError: the set is empty or ``label`` holds values other than 0/1.
    """
    missing = [c for c in (*KEYS, LABEL) if c not in frame.columns]
    if missing:
        raise SchemaMismatch(f"table {table}: expected columns {[*KEYS, LABEL]}, missing {missing}")
    features = feature_columns(list(frame.columns))
    bad = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad or not features:
        raise SchemaMismatch(
            f"table {table}: expected numeric feature columns, got "
            f"{ {c: str(frame[c].dtype) for c in bad} or 'none' }"
        )
    if frame.empty:
        raise DataError(f"table {table}: expected labelled rows, got 0 rows")
    labels = set(pd.unique(frame[LABEL].dropna()).tolist())
    if not labels <= {0, 1} or frame[LABEL].isna().any():
        raise DataError(f"table {table}: expected label in {{0, 1}}, got values {sorted(labels)}")
    frame = frame.sort_values(["ts", "trade_id"], kind="mergesort").reset_index(drop=True)
    version = None
    if VERSION_COLUMN in frame.columns and frame[VERSION_COLUMN].notna().any():
        version = int(frame[VERSION_COLUMN].max())
    return Split(table, frame, features, version)


def load_split(tables: DeltaTables, name: str, max_rows: int | None = None) -> Split:
    """Read Delta table ``name`` as a :class:`Split` (the most recent ``max_rows`` rows if set).

    Raises:
        TableNotFound: the table does not exist.
    """
    table = tables.require(name)
    version = table.version()
    split = split_from_frame(table.to_arrow(version).to_pandas(), name)
    frame = split.frame
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.iloc[-max_rows:].reset_index(drop=True)
    source = (str(table.name), table.location, version)
    return Split(name, frame, split.features, split.feature_table_version, source)


def walk_forward_folds(
    ts: pd.Series | np.ndarray, folds: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over time-sorted rows: the rows are cut into ``folds + 1``
    consecutive blocks; fold k trains on blocks 0..k and validates on block k+1. Cuts move
    forward to the next new timestamp so no instant is on both sides (no leakage).

    Raises:
        DataError: too few rows (or distinct timestamps) for ``folds`` folds.
    """
    # tz-aware timestamps as int64 nanoseconds: np.asarray would box each into an object
    values = ts.array.asi8 if isinstance(ts, pd.Series) and hasattr(ts.array, "asi8") else ts
    values = np.asarray(values)
    n = len(values)
    cuts = []
    for k in range(1, folds + 1):
        cut = round(n * k / (folds + 1))
        while 0 < cut < n and values[cut] == values[cut - 1]:
            cut += 1
        cuts.append(cut)
    bounds = [0, *cuts, n]
    if any(b <= a for a, b in pairwise(bounds)):
        raise DataError(f"walk-forward: expected enough rows for {folds} folds, got {n} rows")
    index = np.arange(n)
    return [(index[: bounds[k + 1]], index[bounds[k + 1] : bounds[k + 2]]) for k in range(folds)]
