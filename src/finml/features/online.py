"""Online features: the batch definitions of :mod:`finml.features.indicators`, one raw trade
at a time, from bounded per-symbol state.

Each symbol keeps its latest trades in ``(ts, trade_id)`` order: at least
:attr:`~finml.features.settings.FeatureSettings.lookback_rows` of them (plus ``late_rows``
more, so late trades can still land) and every trade of the last 60 seconds, with the running
price x volume and volume sums of its current New-York trading day. A new trade's features
are those of the batch build at its position:

* the windowed features from the last
  :attr:`~finml.features.settings.FeatureSettings.window_rows` trades through the same
  vectorised function the batch build runs (:func:`finml.features.frame.windowed_features`);
* ``stale_repeat`` from the previous ``stale_lookback`` prices, ``trades_1s`` /
  ``trades_60s`` from the kept timestamps, ``vwap_dist_day`` from the day's running sums;
* ``time_of_day`` and ``session_code`` from the trade's time, as silver derives its session.

As the batch build sees them after silver: a trade whose ``trade_id`` is already kept is a
duplicate (its first features are returned again, the state unchanged); a trade older than
the latest one is placed at its position among the kept trades (the later trades' features,
already given out, stay as they were; the trades after it see it); a trade older than
what is kept, or from an earlier trading day than the symbol's current one, is refused
(:class:`LateTrade`). ``trade_id`` defaults to silver's SHA-256 identity
(:func:`trade_identity`).

>>> online = OnlineFeatures(FeatureSettings())
>>> online.warm_start(silver_tail)  # doctest: +SKIP
>>> online.update(RawTrade("AAPL", ts, 187.25, 300.0)).features["return_z"]  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.features.frame import (
    EXCHANGE_TZ,
    SESSION_CODES,
    feature_names,
    windowed_features,
)
from finml.features.settings import FeatureSettings

WARM_COLUMNS = ("symbol", "ts", "trade_id", "price", "volume", "trade_date")
_NY = ZoneInfo(EXCHANGE_TZ)
_US = 1_000_000
# (name, start minute, end minute) in exchange-local time, as silver's session_of
_SESSIONS = (("pre", 4 * 60, 9 * 60 + 30), ("regular", 9 * 60 + 30, 16 * 60),
             ("post", 16 * 60, 20 * 60))  # fmt: skip


class LateTrade(DataError):
    """A trade older than the symbol's kept state (or from an earlier trading day)."""


@dataclass(frozen=True)
class RawTrade:
    """A raw trade as a collector sends it. ``ts`` is timezone-aware (naive means UTC)."""

    symbol: str
    ts: datetime
    price: float
    volume: float
    trade_id: str | None = None
    conditions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("price", "volume"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise DataError(f"trade {self.symbol}: expected a positive finite {name}, "
                                f"got {value!r}")  # fmt: skip
        if not self.symbol:
            raise DataError("trade: expected a non-empty symbol, got ''")


@dataclass(frozen=True)
class OnlineRow:
    """The features of one trade, with its identity and what the state did with it."""

    symbol: str
    trade_id: str
    ts: datetime
    trade_date: date
    features: dict[str, float | None]
    duplicate: bool = False
    out_of_order: bool = False


def trade_identity(
    symbol: str, ts: datetime, price: float, volume: float, conditions: tuple[str, ...] = ()
) -> str:
    """Silver's ``trade_id``: SHA-256 of ``symbol|epoch millis|price|volume|conditions``
    (conditions sorted, comma-joined; numbers as Spark casts a double to a string)."""
    millis = _micros(ts) // 1000
    identity = "|".join(
        [symbol, str(millis), _spark_double(price), _spark_double(volume),
         ",".join(sorted(conditions))]
    )  # fmt: skip
    return hashlib.sha256(identity.encode()).hexdigest()


def session_of(ts: datetime) -> str:
    """pre / regular / post / closed for a UTC time, as silver's ``session_of``."""
    local = ts.astimezone(_NY)
    if local.weekday() >= 5:
        return "closed"
    minute = local.hour * 60 + local.minute
    return next((name for name, a, b in _SESSIONS if a <= minute < b), "closed")


@dataclass
class _SymbolState:
    """One symbol's kept trades (sorted by ``(ts_us, trade_id)``) and its day's sums."""

    keys: list[tuple[int, str]] = field(default_factory=list)
    price: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)
    day: date | None = None
    day_pv: float = 0.0
    day_v: float = 0.0
    given: dict[str, OnlineRow] = field(default_factory=dict)
    trimmed: bool = False  # older trades were dropped: the kept ones start mid-history
    dropped_until: int = -(2**62)  # the newest time (us) that may belong to a dropped trade


class OnlineFeatures:
    """Per-symbol state and the features of each new raw trade (see the module docstring)."""

    def __init__(self, settings: FeatureSettings, late_rows: int = 64):
        if late_rows < 0:
            raise ValueError(f"late_rows: expected >= 0, got {late_rows}")
        self.settings = settings
        self.late_rows = late_rows  # how far back (in trades) a late trade may still land
        self.names = feature_names(settings)
        self._states: dict[str, _SymbolState] = {}

    @property
    def symbols(self) -> list[str]:
        return sorted(self._states)

    def kept(self, symbol: str) -> int:
        """How many trades of ``symbol`` the state holds."""
        state = self._states.get(symbol)
        return len(state.keys) if state else 0

    def warm_tail(self, trades: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``trades`` (silver rows) :meth:`warm_start` needs: each symbol's
        latest trading day and the ``lookback_rows + late_rows`` trades before it."""
        ordered = trades.sort_values(["symbol", "ts", "trade_id"], kind="stable")
        keep = self.settings.lookback_rows + self.late_rows
        parts = []
        for _, rows in ordered.groupby("symbol", sort=True):
            latest = rows["trade_date"].max()
            first_today = int(np.argmax((rows["trade_date"] == latest).to_numpy()))
            parts.append(rows.iloc[max(0, first_today - keep) :])
        return pd.concat(parts) if parts else ordered

    def warm_start(self, trades: pd.DataFrame) -> int:
        """Replace the state of the symbols in ``trades`` (silver rows: symbol, ts,
        trade_id, price, volume, trade_date) by their latest trades: give it at least the
        last ``lookback_rows`` trades of each symbol and every trade of its latest trading
        day, so the day's sums are complete (:meth:`warm_tail` picks them); a symbol with
        fewer than ``lookback_rows + late_rows`` rows is taken as its whole history.
        Returns the trades kept."""
        required = set(WARM_COLUMNS)
        missing = sorted(required - set(trades.columns))
        if missing:
            raise DataError(f"warm start: expected columns {missing}, got {list(trades.columns)}")
        ts_us = _micros_series(trades["ts"])
        ordered = trades.assign(_ts_us=ts_us).sort_values(["symbol", "_ts_us", "trade_id"])
        for symbol, rows in ordered.groupby("symbol", sort=True):
            state = _SymbolState()
            latest = max(rows["trade_date"])
            today = rows[rows["trade_date"] == latest]
            state.day = pd.Timestamp(latest).date()
            for pv, v in zip(today["price"] * today["volume"], today["volume"], strict=True):
                state.day_pv += float(pv)
                state.day_v += float(v)
            state.keys = list(zip(rows["_ts_us"].astype(int), rows["trade_id"], strict=True))
            state.price = rows["price"].astype(float).tolist()
            state.volume = rows["volume"].astype(float).tolist()
            # a tail as long as the kept state may have earlier trades not here; a shorter
            # one is the symbol's whole history (what warm_tail gives for a young symbol)
            if len(state.keys) >= self.settings.lookback_rows + self.late_rows:
                state.trimmed = True
                state.dropped_until = state.keys[0][0]
            self._states[str(symbol)] = state
            self._trim(state)
        return sum(len(s.keys) for s in self._states.values())

    def update(self, trade: RawTrade) -> OnlineRow:
        """The features of ``trade``, which then joins its symbol's state.

        Raises:
            LateTrade: the trade is older than the kept trades or the symbol's trading day.
        """
        ts = trade.ts if trade.ts.tzinfo else trade.ts.replace(tzinfo=UTC)
        trade_id = trade.trade_id or trade_identity(
            trade.symbol, ts, trade.price, trade.volume, trade.conditions
        )
        state = self._states.setdefault(trade.symbol, _SymbolState())
        if trade_id in state.given:
            seen = state.given[trade_id]
            return OnlineRow(seen.symbol, trade_id, seen.ts, seen.trade_date, seen.features,
                             duplicate=True)  # fmt: skip
        key, day = (_micros(ts), trade_id), ts.astimezone(_NY).date()
        position = bisect.bisect(state.keys, key)
        self._check_late(state, trade.symbol, key, day, position)
        if state.day is None or day > state.day:
            state.day, state.day_pv, state.day_v = day, 0.0, 0.0
        state.keys.insert(position, key)
        state.price.insert(position, float(trade.price))
        state.volume.insert(position, float(trade.volume))
        earlier_pv, earlier_v = self._earlier_of_day(state, position, day)
        state.day_pv += trade.price * trade.volume
        state.day_v += trade.volume
        features = self._features(state, position, ts, earlier_pv, earlier_v)
        row = OnlineRow(trade.symbol, trade_id, ts, day, features,
                        out_of_order=position < len(state.keys) - 1)  # fmt: skip
        state.given[trade_id] = row
        self._trim(state)
        return row

    def _check_late(self, state: _SymbolState, symbol: str, key, day: date, position: int) -> None:
        if state.day is not None and day < state.day:
            raise LateTrade(f"trade {symbol} at {key[0]} us: expected trading day >= "
                            f"{state.day}, got {day}")  # fmt: skip
        too_early = (
            position < self.settings.lookback_rows or state.dropped_until >= key[0] - 60 * _US
        )
        if state.trimmed and too_early:
            raise LateTrade(f"trade {symbol} at {key[0]} us: expected a time whose lookback "
                            f"is kept (trades from {state.keys[0][0]} us)")  # fmt: skip

    def _earlier_of_day(self, state: _SymbolState, position: int, day: date) -> tuple[float, float]:
        """Sums of price x volume and volume of the day's trades before ``position``."""
        pv, v = state.day_pv, state.day_v
        for i in range(position + 1, len(state.keys)):  # later trades, kept (same day)
            pv -= state.price[i] * state.volume[i]
            v -= state.volume[i]
        return pv, v

    def _features(self, state: _SymbolState, position: int, ts: datetime, pv: float, v: float):
        s = self.settings
        end = position + 1
        start = max(0, end - s.window_rows)
        ts_us = np.array([k[0] for k in state.keys[:end]], dtype=np.int64)
        price = np.array(state.price[start:end])
        seq = windowed_features(ts_us[start:], price, np.array(state.volume[start:end]), s)
        out: dict[str, float] = {n: float(values[-1]) for n, values in seq.items()}
        now = ts_us[-1]
        out["trades_1s"] = float(end - np.searchsorted(ts_us, now - _US, "left"))
        out["trades_60s"] = float(end - np.searchsorted(ts_us, now - 60 * _US, "left"))
        previous = state.price[max(0, position - s.stale_lookback) : position]
        out["stale_repeat"] = float(state.price[position] in previous)
        vwap = pv / v if v != 0 else math.nan
        ratio = state.price[position] / vwap if vwap and not math.isnan(vwap) else math.nan
        out["vwap_dist_day"] = math.log(ratio) if ratio > 0 else math.nan
        local = ts.astimezone(_NY)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        out["time_of_day"] = (seconds * _US + local.microsecond) / (86_400 * _US)
        out["session_code"] = float(SESSION_CODES[session_of(ts)])
        return {n: (None if math.isnan(out[n]) else out[n]) for n in self.names}

    def _trim(self, state: _SymbolState) -> None:
        """Keep the last ``lookback_rows + late_rows`` trades and every trade of the last
        60 s."""
        keep_rows = self.settings.lookback_rows + self.late_rows
        if len(state.keys) <= keep_rows:
            return
        newest = state.keys[-1][0]
        cut = len(state.keys) - keep_rows
        cut = min(cut, bisect.bisect_left(state.keys, (newest - 60 * _US, "")))
        if cut <= 0:
            return
        for key in state.keys[:cut]:
            state.given.pop(key[1], None)
        state.dropped_until = state.keys[cut - 1][0]
        del state.keys[:cut], state.price[:cut], state.volume[:cut]
        state.trimmed = True


def _micros(ts: datetime) -> int:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    delta = ts.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _micros_series(ts: pd.Series) -> np.ndarray:
    values = pd.to_datetime(ts)
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy("datetime64[us]").astype(np.int64)


def _spark_double(value: float) -> str:
    """A double as Spark's ``cast(double as string)`` prints it (Java's
    ``Double.toString``, shortest digits): plain from 1e-3 to below 1e7, else ``d.dddE-n``."""
    x = float(value)
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        return repr(x)  # Python's repr is plain in this range, with at least one decimal
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    text = "".join(map(str, digits))
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{len(digits) - 1 + int(exponent)}"
