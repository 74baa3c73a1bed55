"""The validated inputs of one request, column-wise.

A request's records travel through routing, scoring and the inference log as one
:class:`Records`: a float64 matrix of the features and three entity columns. A 10k-record
batch is then one matrix handed to the model and one object queued for the log, not 10k
Python objects built, read back and rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Records:
    """``values`` is (records x features), in the service's feature order; ``symbols``,
    ``ts`` and ``trade_ids`` have one entry per record (None where a record has none)."""

    values: np.ndarray
    symbols: list[str | None]
    ts: list[datetime | None]
    trade_ids: list[str | None]

    def __len__(self) -> int:
        return len(self.symbols)

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[float]],
        symbols: Sequence[str | None] | None = None,
        ts: Sequence[datetime | None] | None = None,
        trade_ids: Sequence[str | None] | None = None,
    ) -> Records:
        """Records from rows of feature values; absent entity columns are all None."""
        n = len(values)
        matrix = np.array(values, dtype=np.float64).reshape(n, -1) if n else np.empty((0, 0))
        return cls(
            matrix,
            list(symbols) if symbols is not None else [None] * n,
            list(ts) if ts is not None else [None] * n,
            list(trade_ids) if trade_ids is not None else [None] * n,
        )

    def keys(self) -> list[str | None]:
        """The routing key of each record: its symbol, else its trade id."""
        return [s or t for s, t in zip(self.symbols, self.trade_ids, strict=True)]

    def take(self, indices: list[int]) -> Records:
        """The records at ``indices``, in that order."""
        return Records(
            self.values[indices],
            [self.symbols[i] for i in indices],
            [self.ts[i] for i in indices],
            [self.trade_ids[i] for i in indices],
        )
