"""Time-based train/test split: train on earlier New-York trading days, test on later ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from finml.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DAY_COLUMN = "_trade_date"


@dataclass(frozen=True)
class Split:
    train: DataFrame
    test: DataFrame
    cutoff: date  # first test day
    train_days: int
    test_days: int


def split_days(days: list[date], test_fraction: float) -> tuple[date, int]:
    """The first test day and how many days are tested: the last ``test_fraction`` of the
    distinct ``days`` (at least one each side).

    Raises:
        DataError: fewer than two distinct days.
    """
    ordered = sorted(set(days))
    if len(ordered) < 2:
        raise DataError(f"train/test split: expected at least 2 trading days, got {len(ordered)}")
    n_test = min(max(1, round(test_fraction * len(ordered))), len(ordered) - 1)
    return ordered[-n_test], n_test


def time_split(rows: DataFrame, test_fraction: float) -> Split:
    """Split ``rows`` (with ``_trade_date``) into earlier days (train) and later days (test).

    Raises:
        DataError: no ``_trade_date`` column, or fewer than two distinct days.
    """
    if DAY_COLUMN not in rows.columns:
        raise DataError(f"train/test split: expected column {DAY_COLUMN!r}, got {rows.columns}")
    days = [r[0] for r in rows.select(DAY_COLUMN).distinct().collect() if r[0] is not None]
    cutoff, n_test = split_days(days, test_fraction)
    is_test = F.col(DAY_COLUMN) >= F.lit(cutoff)
    return Split(rows.where(~is_test), rows.where(is_test), cutoff, len(set(days)) - n_test, n_test)
