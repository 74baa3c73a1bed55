"""A/B routing: which variant answers a record, sticky by an entity key.

The key (the symbol, else the trade id) is hashed to one of 10,000 buckets, so the same
symbol always lands on the same variant for a given split, independent of process, order or
time, and a 5 % split is accurate to 0.01 %.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from finml.serving.settings import ABSettings

BUCKETS = 10_000
CHAMPION, CHALLENGER, SHADOW = "champion", "challenger", "shadow"


@lru_cache(maxsize=65_536)  # symbols repeat: a 10k-record batch hashes each one once
def bucket(key: str) -> int:
    """A stable bucket in ``[0, BUCKETS)`` for ``key``."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def route(key: str | None, ab: ABSettings, has_challenger: bool) -> str:
    """``challenger`` if ``key`` falls in the challenger's share under a split, else
    ``champion``. Records without a key, and every record outside ``split`` mode, go to
    the champion (in ``shadow`` mode the champion answers and the challenger scores too)."""
    if not splitting(ab, has_challenger) or key is None:
        return CHAMPION
    return CHALLENGER if bucket(key) < ab.challenger_percent * (BUCKETS / 100) else CHAMPION


def splitting(ab: ABSettings, has_challenger: bool) -> bool:
    """Whether any record can be routed to the challenger (else all go to the champion)."""
    return ab.mode == "split" and has_challenger
