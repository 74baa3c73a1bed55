"""Held-out next-regime log-likelihood (pure numpy / pandas).

The most recent trade dates are kept out of the fit. Every transition *into* a held-out date
(consecutive days of one symbol, the pair bridging the cut included: the fit never sees it)
is scored under a transition matrix as ``sum log P[state_t, state_t+1]``. Champion and
challenger are scored on the same transitions, so their sums compare directly; with
additive smoothing (``smoothing > 0``) no probability is zero and the sum is finite.

All symbols share one calendar cut, so a data set that only grows keeps the held-out dates
of today out of yesterday's fit as well: the champion is scored out of sample too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.regimes.analytics import check_stochastic


@dataclass(frozen=True)
class HeldOut:
    """Which daily rows the chain is fitted on and the held-out transitions it is scored on."""

    fit_mask: np.ndarray  # per daily row: True if the fit may use it
    origins: np.ndarray  # regime id on day t of each held-out transition
    targets: np.ndarray  # regime id on day t + 1 (a held-out date)
    first_date: date  # the first held-out trade date
    days: int  # held-out trade dates

    @property
    def transitions(self) -> int:
        return int(self.targets.size)


def heldout_days(dates: int, fraction: float, min_days: int) -> int:
    """``max(min_days, ceil(fraction * dates))`` (the ceiling ignores float noise)."""
    return max(min_days, math.ceil(round(fraction * dates, 9)))


def split_heldout(days: pd.DataFrame, fraction: float, min_days: int) -> HeldOut:
    """Hold out the last :func:`heldout_days` distinct trade dates of ``days`` (rows with
    ``symbol``, ``trade_date``, ``regime_id``, sorted by symbol then date).

    Raises:
        DataError: fewer than the held-out dates plus two (a fit needs a transition), or no
            transition into a held-out date.
    """
    dates = np.sort(pd.unique(days["trade_date"]))
    held = heldout_days(len(dates), fraction, min_days)
    if len(dates) < held + 2:
        raise DataError(
            f"regimes: expected at least {held + 2} trade dates ({held} held out by "
            f"heldout_fraction={fraction}, heldout_min_days={min_days}, 2 to fit), "
            f"got {len(dates)}"
        )
    first = dates[len(dates) - held]
    held_rows = (days["trade_date"] >= first).to_numpy(dtype=bool)
    symbols = days["symbol"].to_numpy()
    into = (symbols[1:] == symbols[:-1]) & held_rows[1:]
    if not into.any():
        raise DataError(
            f"regimes: expected transitions into the held-out dates from {first}, got 0"
        )
    states = days["regime_id"].to_numpy(dtype=np.int64)
    return HeldOut(~held_rows, states[:-1][into], states[1:][into], first, held)


def log_likelihood(matrix: np.ndarray, origins: np.ndarray, targets: np.ndarray) -> float:
    """``sum log matrix[origin, target]``; ``-inf`` if a transition has probability 0 (only
    possible without smoothing).

    Raises:
        DataError: ``matrix`` is not row-stochastic, or a state is outside it.
    """
    p = check_stochastic(matrix)
    o, t = np.asarray(origins, dtype=np.int64), np.asarray(targets, dtype=np.int64)
    if o.shape != t.shape:
        raise DataError(f"transitions: expected equal lengths, got {o.shape} and {t.shape}")
    if o.size and (min(o.min(), t.min()) < 0 or max(o.max(), t.max()) >= p.shape[0]):
        raise DataError(f"transitions: expected states in 0..{p.shape[0] - 1}")
    with np.errstate(divide="ignore"):
        return float(np.log(p[o, t]).sum())
