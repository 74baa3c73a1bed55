"""Market alerts of a scored batch: :class:`LiveAnomalyWatch` over new trades and the latest
regime states, sent as ``EXTREME_MOVE`` and ``REGIME_CHANGE`` alerts, once per window.

>>> rows = raise_market_alerts(config, tables, trades, regime_states=states)  # doctest: +SKIP

Exactly once per window: an extreme move raises at most one alert per (symbol, UTC day) --
the largest ``|z|`` of that day -- and a regime change one per (symbol, regime date). The
window is part of the ``dedup_key`` (``EXTREME_MOVE:AAPL:2026-03-02``), and a key already in
the ``alerts`` table (any status) is not raised again, so re-running a batch, however late,
writes nothing. ``AlertManager``'s time-based deduplication alone would re-send a window
once ``dedup_minutes`` had passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import DataError
from finml.log import get_logger
from finml.monitoring.alerts import ALERTS_TABLE, Alert, AlertManager
from finml.monitoring.settings import MonitoringSettings, WatchSettings
from finml.monitoring.watch import LiveAnomalyWatch, move_alert
from finml.runtime.delta import utc_literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("monitoring.market_alerts")

TRADE_COLUMNS = ("symbol", "ts", "price")
# silver trades matching a SQL predicate (``Table.to_arrow(where=...)`` as pandas)
TradeReader = Callable[[str], pd.DataFrame]
REGIME_COLUMNS = ("symbol", "trade_date", "regime")
STATES = ("Normal", "Stress", "Crisis")


def raise_market_alerts(
    config: ProjectConfig,
    tables: DeltaTables,
    trades: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    regime_states: pd.DataFrame | None = None,
    transition: np.ndarray | None = None,
    states: Sequence[str] = STATES,
    manager: AlertManager | None = None,
) -> list[dict[str, Any]]:
    """Run the live watch over a batch and send its new alerts; returns the ``alerts`` rows
    written (empty when the batch raised nothing new).

    Args:
        trades: the new trades (``symbol``, ``ts``, ``price``); only they can alert.
        history: earlier trades of the same layout that fill the ``lookback`` (no alerts);
            without it the first 20 returns of each symbol in ``trades`` cannot alert.
        regime_states: ``symbol``, ``trade_date``, ``regime`` (the ``regime_states``
            table): each symbol's latest state against the one before it.
        transition: the regime model's transition matrix over ``states`` (rows: from);
            a change less probable than ``watch.min_transition_probability`` alerts. None:
            every change of the latest state alerts (MEDIUM).
        manager: where alerts go (default: the config's alert settings into ``tables``).

    Returns in the order sent; returns within one session of a symbol (a UTC day) form a
    series, the overnight gap is not a return.

    Raises:
        DataError: a required column is missing, a price is not positive, a regime is not one
            of ``states`` or the matrix does not fit them.
    """
    settings = MonitoringSettings.from_config(config)
    watch = LiveAnomalyWatch(AlertManager(), None, settings=settings.watch)
    moves = extreme_moves(watch, trades, history)
    return send_market_alerts(
        config,
        tables,
        moves,
        regime_states=regime_states,
        transition=transition,
        states=states,
        manager=manager,
    )


def send_market_alerts(
    config: ProjectConfig,
    tables: DeltaTables,
    moves: Sequence[Alert],
    *,
    regime_states: pd.DataFrame | None = None,
    transition: np.ndarray | None = None,
    states: Sequence[str] = STATES,
    manager: AlertManager | None = None,
) -> list[dict[str, Any]]:
    """Send the extreme ``moves`` (from :func:`extreme_moves` or
    :func:`spark_extreme_moves`) and the regime changes of ``regime_states`` whose key is
    not in ``alerts`` yet; returns the ``alerts`` rows written. Arguments and raises as
    :func:`raise_market_alerts`."""
    settings = MonitoringSettings.from_config(config)
    manager = manager or AlertManager(settings.alerts, tables)
    watch = LiveAnomalyWatch(manager, transition, tuple(states), settings.watch)
    candidates = list(moves)
    if regime_states is not None:
        candidates += regime_changes(watch, regime_states)
    seen = raised_keys(tables)
    rows: list[dict[str, Any]] = []
    for alert in candidates:
        if alert.key in seen:
            continue
        seen.add(alert.key)
        rows += manager.send(alert)
    log.info("market_alerts", candidates=len(candidates), sent=len(rows), moves=len(moves))
    return rows


def extreme_moves(
    watch: LiveAnomalyWatch, trades: pd.DataFrame, history: pd.DataFrame | None = None
) -> list[Alert]:
    """The watch's extreme moves in ``trades`` (after ``history`` warmed it up), the
    largest ``|z|`` per (symbol, UTC day), ordered by time."""
    for frame in (history, trades):
        if frame is not None:
            _require(frame, TRADE_COLUMNS, "trades")
    if history is not None and len(history):
        for symbol, prices, times in _sessions(history):
            watch.new_session(symbol)
            watch.extreme_moves(symbol, prices, times)
    best: dict[str, Alert] = {}
    for symbol, prices, times in _sessions(trades):
        watch.new_session(symbol)
        for alert in watch.extreme_moves(symbol, prices, times):
            kept = best.get(alert.key)
            if kept is None or abs(alert.details["zscore"]) > abs(kept.details["zscore"]):
                best[alert.key] = alert
    return sorted(best.values(), key=lambda a: (a.created_at, a.key))


def regime_changes(watch: LiveAnomalyWatch, regime_states: pd.DataFrame) -> list[Alert]:
    """Per symbol, the alert of its latest regime state against the one before (if any)."""
    _require(regime_states, REGIME_COLUMNS, "regime_states")
    alerts = []
    frame = regime_states.sort_values(["symbol", "trade_date"], kind="stable")
    for symbol, days in frame.groupby("symbol", sort=True):
        if len(days) < 2:
            continue
        before, latest = days.iloc[-2], days.iloc[-1]
        watch.regime_change(str(symbol), str(before["regime"]))  # the state it left
        day = pd.Timestamp(latest["trade_date"]).date()
        if (alert := watch.regime_change(str(symbol), str(latest["regime"]), day)) is not None:
            alerts.append(alert)
    return alerts


def batch_trades(
    trades: DataFrame, new_ids: DataFrame, lookback: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trades of a scoring batch and their history, collected as pandas (``symbol``,
    ``ts``, ``price``, ``trade_id``, which orders trades at the same instant): the rows of
    ``trades`` (``silver_trades``) whose ``trade_id`` is in ``new_ids``, and per symbol the
    ``lookback`` trades before its first new one.

    Every new trade reaches the driver: for large batches use :func:`spark_extreme_moves`."""
    new, history = _batch_frames(trades, new_ids, lookback)
    columns = (*TRADE_COLUMNS, "trade_id")
    return new.select(*columns).toPandas(), history.select(*columns).toPandas()


def driver_extreme_moves(
    read: TradeReader, new: pd.DataFrame, settings: WatchSettings
) -> list[Alert]:
    """:func:`extreme_moves` of a small batch on the driver: the batch's trades (``new``:
    symbol, ts, trade_id, as the scoring job holds them) priced from ``read`` (the
    ``silver_trades`` rows matching a SQL predicate, e.g. ``Table.to_arrow(where=...)``)
    and, per symbol, the ``lookback`` trades before its first one -- what
    :func:`spark_extreme_moves` finds, without Spark. Both reads carry literal time bounds,
    so the files of older days are skipped; the history bound widens (3 days, 30 days,
    all) until every symbol has its lookback."""
    if new.empty:
        return []
    ts = pd.to_datetime(new["ts"], utc=True)
    rows = read(f"ts >= '{utc_literal(ts.min())}' AND ts <= '{utc_literal(ts.max())}'")
    found = rows[rows["trade_id"].isin(set(new["trade_id"]))][[*TRADE_COLUMNS, "trade_id"]]
    batch = found.sort_values(["symbol", "ts", "trade_id"], kind="stable")
    firsts = pd.to_datetime(batch["ts"], utc=True).groupby(batch["symbol"]).min()
    history = _history_before(read, firsts, settings.lookback)
    watch = LiveAnomalyWatch(AlertManager(), None, settings=settings)
    return extreme_moves(watch, batch, history)


_HISTORY_SPANS = (pd.Timedelta(days=3), pd.Timedelta(days=30), None)


def _history_before(read: TradeReader, firsts: pd.Series, lookback: int) -> pd.DataFrame:
    """Per symbol of ``firsts`` (symbol -> its first new trade's time, UTC), the
    ``lookback`` trades ``read`` finds before it (newest by time, then trade id, as
    :func:`batch_trades` picks them)."""
    if firsts.empty:
        return pd.DataFrame(columns=list(TRADE_COLUMNS))
    symbols = ", ".join("'" + str(s).replace("'", "''") + "'" for s in firsts.index)
    before = f"ts < '{utc_literal(firsts.max())}' AND symbol IN ({symbols})"
    for span in _HISTORY_SPANS:
        bound = (
            before if span is None else f"{before} AND ts >= '{utc_literal(firsts.min() - span)}'"
        )
        rows = read(bound)[[*TRADE_COLUMNS, "trade_id"]]
        rows = rows[pd.to_datetime(rows["ts"], utc=True) < rows["symbol"].map(firsts)]
        counts = rows.groupby("symbol").size().reindex(firsts.index, fill_value=0)
        if (counts >= lookback).all():
            break
    ordered = rows.sort_values(["symbol", "ts", "trade_id"], kind="stable")
    return ordered.groupby("symbol").tail(lookback).reset_index(drop=True)


def spark_extreme_moves(
    trades: DataFrame, new_ids: DataFrame, settings: WatchSettings
) -> list[Alert]:
    """:func:`extreme_moves` of the batch :func:`batch_trades` would collect, computed on
    the executors: one group per symbol (its lookback history and new trades) runs the
    watch and returns only its candidates, the largest ``|z|`` per (symbol, UTC day). The
    driver collects those few rows, not the trades. Same alerts, keys and z-scores as the
    driver computation; ordered by time."""
    from pyspark.sql import functions as F

    new, history = _batch_frames(trades, new_ids, settings.lookback)
    both = new.select(*TRADE_COLUMNS, "trade_id", F.lit(True).alias("_new")).unionByName(
        history.select(*TRADE_COLUMNS, "trade_id", F.lit(False).alias("_new"))
    )
    found: pd.DataFrame = (
        both.groupBy("symbol")
        .applyInPandas(_symbol_moves(settings), MOVE_SCHEMA)
        .toPandas()  # the candidates only: a few per symbol and day
    )
    at = pd.to_datetime(found["ts"], utc=True)
    alerts = [
        move_alert(str(symbol), float(z), float(r), float(price), t.to_pydatetime(), settings)
        for symbol, z, r, price, t in zip(
            found["symbol"], found["zscore"], found["log_return"], found["price"], at,
            strict=True,
        )
    ]  # fmt: skip
    return sorted(alerts, key=lambda a: (a.created_at, a.key))


MOVE_SCHEMA = "symbol string, ts timestamp, price double, zscore double, log_return double"


def _symbol_moves(settings: WatchSettings) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The per-symbol step of :func:`spark_extreme_moves`: a fresh watch over the group's
    history (``_new`` false) then its new trades, the candidates as ``MOVE_SCHEMA`` rows."""

    def moves(group: pd.DataFrame) -> pd.DataFrame:
        new = group["_new"].to_numpy(bool)
        watch = LiveAnomalyWatch(AlertManager(), None, settings=settings)
        found = extreme_moves(watch, group.loc[new], group.loc[~new])
        return pd.DataFrame(
            {
                "symbol": pd.Series([a.details["symbol"] for a in found], dtype=object),
                "ts": pd.to_datetime([a.details["ts"] for a in found], utc=True),
                "price": np.array([a.details["price"] for a in found], np.float64),
                "zscore": np.array([a.details["zscore"] for a in found], np.float64),
                "log_return": np.array([a.details["log_return"] for a in found], np.float64),
            }
        )  # typed arrays: an empty group's answer must still convert to Arrow

    return moves


def _batch_frames(
    trades: DataFrame, new_ids: DataFrame, lookback: int
) -> tuple[DataFrame, DataFrame]:
    """The new trades of a batch and, per symbol, the ``lookback`` trades before its first
    new one (lazy)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    new = trades.join(new_ids.select("trade_id").distinct(), "trade_id", "left_semi")
    first = new.groupBy("symbol").agg(F.min("ts").alias("_first"))
    before = trades.join(first, "symbol").where(F.col("ts") < F.col("_first"))
    newest = Window.partitionBy("symbol").orderBy(F.col("ts").desc(), F.col("trade_id").desc())
    history = before.withColumn("_n", F.row_number().over(newest)).where(F.col("_n") <= lookback)
    return new, history


def raised_keys(tables: DeltaTables) -> set[str]:
    """Every ``dedup_key`` in the ``alerts`` table (any status: a failed delivery is
    re-sent by ``retry_failed``, not raised again)."""
    table = tables.table(ALERTS_TABLE)
    if not table.exists():
        return set()
    keys = table.to_arrow().column("dedup_key").to_pylist()
    return {k for k in keys if k is not None}


def champion_transition(config: ProjectConfig) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """The transition matrix and states of the ``regime_model`` holding ``@champion``, or
    None when no version holds it."""
    import mlflow.pyfunc

    from finml import registry

    registry.configure(config)
    name = registry.model_name(config, registry.REGIME_MODEL)
    if registry.by_alias(config, name, registry.CHAMPION) is None:
        return None
    model = mlflow.pyfunc.load_model(registry.model_uri(name, registry.CHAMPION))
    chain = model.unwrap_python_model().chain
    return np.asarray(chain.matrix), tuple(chain.states)


def _sessions(trades: pd.DataFrame):
    """(symbol, prices, times) per symbol and UTC day, in time order."""
    frame = pd.DataFrame(
        {
            "symbol": trades["symbol"].to_numpy(),
            "ts": pd.to_datetime(trades["ts"], utc=True).to_numpy(),
            "price": trades["price"].to_numpy(np.float64),
        }
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["day"] = frame["ts"].dt.floor("D")
    # Trades at the same instant in trade-id order (as the features order them), when given:
    # the order the rows arrive in is not deterministic after a Spark join.
    order = ["symbol", "ts"]
    if "trade_id" in trades.columns:
        frame["trade_id"] = trades["trade_id"].to_numpy()
        order.append("trade_id")
    frame = frame.sort_values(order, kind="stable")
    for (symbol, _), group in frame.groupby(["symbol", "day"], sort=True):
        times = list(group["ts"].array.to_pydatetime())
        yield str(symbol), group["price"].to_numpy(np.float64), times


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: expected columns {missing}, got {list(frame.columns)}")
