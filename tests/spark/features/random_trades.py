"""Seeded random silver trades with the awkward cases of the feature build: ties on ``ts``,
flat runs (zero standard deviations), exact price repeats, long gaps, short trading days,
trades within 60 s across New-York midnight, every session, a one-trade symbol, and an input
order that is not the time order (late trades)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

NY = "America/New_York"
_GAPS_MS = np.array([0, 0, 150, 900, 1_000, 2_500, 30_000, 59_000, 61_000, 400_000])


def _session(local: pd.Timestamp) -> str:
    minutes = local.hour * 60 + local.minute
    if minutes < 9 * 60 + 30:
        return "pre"
    if minutes < 16 * 60:
        return "regular"
    return "post" if minutes < 20 * 60 else "closed"


def _times(rng: np.random.Generator, n: int) -> list[pd.Timestamp]:
    """UTC times: mostly short gaps, sometimes a jump to a later New-York day or to just
    before its midnight (so the next trades cross it within a minute)."""
    t = pd.Timestamp(datetime(2024, 3, 7, 4, 0), tz=NY)  # spans the DST change of 10 March
    out = []
    for _ in range(n):
        u = rng.random()
        if u < 0.02:
            t = (t + timedelta(days=int(rng.integers(1, 3)))).normalize() + timedelta(
                hours=float(rng.uniform(4, 19))
            )
        elif u < 0.03:
            t = t.normalize() + timedelta(hours=23, minutes=59, seconds=float(rng.uniform(5, 55)))
        else:
            t = t + timedelta(milliseconds=int(rng.choice(_GAPS_MS)))
        out.append(t)
    return out


def random_trades(seed: int, sizes: dict[str, int]) -> pd.DataFrame:
    """``sizes``: trades per symbol. Returns the silver columns, rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for symbol, n in sizes.items():
        price, volume = 50.0 + 50 * rng.random(), 100.0
        for i, t in enumerate(_times(rng, n)):
            u = rng.random()
            if u < 0.85:  # else: a flat stretch keeps price (and volume)
                price = round(price * math.exp(rng.normal(0, 0.001)), 4)
                volume = float(rng.integers(1, 500))
            if u > 0.97:
                price = round(price, 1)  # exact repeats of earlier prints
            local = t.tz_convert(NY)
            rows.append(
                {
                    "symbol": symbol,
                    "ts": t.tz_convert("UTC").tz_localize(None),
                    "trade_id": f"{symbol}-{rng.integers(0, 10**6):06d}-{i}",
                    "price": price,
                    "volume": volume,
                    "trade_date": local.date(),
                    "session": _session(local),
                }
            )
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
