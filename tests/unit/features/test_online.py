"""Online features equal the batch build's, one raw trade at a time: in order, after a warm
start, with duplicates and late trades; state stays bounded."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_frame import assert_same_features

from finml.errors import DataError
from finml.features.frame import feature_names, features_frame
from finml.features.online import LateTrade, OnlineFeatures, RawTrade, session_of
from finml.features.settings import FeatureSettings

_SPEC = importlib.util.spec_from_file_location(
    "_features_random_trades",
    Path(__file__).resolve().parents[2] / "spark" / "features" / "random_trades.py",
)
assert _SPEC is not None and _SPEC.loader is not None
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)


def random_trades(seed: int, sizes: dict[str, int]) -> pd.DataFrame:
    """The feature build's awkward random trades, with silver's session (weekends closed;
    the Spark test checks ``session_of`` against silver's)."""
    trades = _MODULE.random_trades(seed, sizes)
    return trades.assign(session=[session_of(t.to_pydatetime()) for t in trades["ts"]])


SMALL = FeatureSettings(
    vol_windows=(2, 5), rsi_period=3, macd_fast=2, macd_slow=5, macd_signal=3,
    bollinger_period=4, zscore_window=5, range_window=3, stale_lookback=7,
)  # fmt: skip


def ordered(trades: pd.DataFrame) -> pd.DataFrame:
    return trades.sort_values(["symbol", "ts", "trade_id"]).reset_index(drop=True)


def raw(row) -> RawTrade:
    return RawTrade(row.symbol, row.ts.to_pydatetime(), row.price, row.volume, row.trade_id)


def stream(online: OnlineFeatures, trades: pd.DataFrame) -> pd.DataFrame:
    """Feed ``trades`` in time order across symbols; the online rows as a frame."""
    rows = []
    for row in trades.sort_values(["ts", "trade_id"]).itertuples():
        out = online.update(raw(row))
        rows.append({"trade_id": out.trade_id, **out.features})
    return pd.DataFrame(rows)


def assert_equal_to_batch(got: pd.DataFrame, batch: pd.DataFrame, names: list[str]) -> None:
    """The online rows equal the batch build's rows of the same trades (1e-9, same nulls)."""
    assert len(got) > 0
    assert_same_features(got, batch[batch["trade_id"].isin(got["trade_id"])], names)


@pytest.mark.parametrize(("seed", "settings"), [(1, FeatureSettings()), (2, SMALL), (3, SMALL)])
def test_online_features_equal_the_batch_build(seed: int, settings: FeatureSettings) -> None:
    trades = random_trades(seed, {"AAA": 700, "BBB": 150, "ONE": 1})
    online = OnlineFeatures(settings)
    got = stream(online, trades)
    assert_equal_to_batch(got, features_frame(trades, settings), feature_names(settings))
    assert online.symbols == ["AAA", "BBB", "ONE"]
    # bounded: the lookback (plus the last minute's trades), not the whole history
    assert online.kept("AAA") < 700 if settings is SMALL else online.kept("AAA") <= 700


def test_a_warm_start_from_silver_continues_exactly() -> None:
    trades = ordered(random_trades(4, {"AAA": 300, "BBB": 120}))
    cut = trades["ts"].sort_values().iloc[200]
    history, live = trades[trades["ts"] < cut], trades[trades["ts"] >= cut]
    online = OnlineFeatures(SMALL)
    assert online.warm_start(history) <= len(history)
    got = stream(online, live)
    assert_equal_to_batch(got, features_frame(trades, SMALL), feature_names(SMALL))
    with pytest.raises(DataError, match=r"expected columns \['trade_date'\]"):
        online.warm_start(history.drop(columns=["trade_date"]))


def test_a_duplicate_returns_its_first_features_and_changes_nothing() -> None:
    trades = ordered(random_trades(5, {"AAA": 60}))
    online = OnlineFeatures(SMALL)
    first = [online.update(raw(r)) for r in trades.iloc[:40].itertuples()]
    again = online.update(raw(next(trades.iloc[[30]].itertuples())))
    assert again.duplicate and again.features == first[30].features
    kept = online.kept("AAA")
    rest = stream(online, trades.iloc[40:])
    assert online.kept("AAA") >= kept - 0  # the duplicate did not join the state twice
    assert_equal_to_batch(rest, features_frame(trades, SMALL), feature_names(SMALL))


def test_a_late_trade_is_placed_by_its_time_as_the_batch_build_orders_it() -> None:
    trades = ordered(random_trades(6, {"AAA": 80}))
    batch = features_frame(trades, SMALL)
    late = next(trades.iloc[[50]].itertuples())
    online = OnlineFeatures(SMALL)
    for row in trades.drop(index=50).iloc[:52].itertuples():  # rows 0-52 without row 50
        online.update(raw(row))
    placed = online.update(raw(late))
    assert placed.out_of_order and not placed.duplicate
    # its features see exactly the trades before it, like the batch build's row
    assert_equal_to_batch(pd.DataFrame([{"trade_id": placed.trade_id, **placed.features}]),
                          batch, feature_names(SMALL))  # fmt: skip
    # the trades after every late one see it
    assert_equal_to_batch(stream(online, trades.iloc[53:]), batch, feature_names(SMALL))


def test_trades_older_than_the_kept_state_are_refused() -> None:
    start = datetime(2024, 3, 7, 15, tzinfo=UTC)
    online = OnlineFeatures(SMALL, late_rows=4)
    for i in range(300):  # one trade a second
        online.update(RawTrade("AAA", start + timedelta(seconds=i), 50.0 + i % 7, 10.0, f"t{i}"))
    assert online.kept("AAA") == 61  # the last minute's trades (more than the lookback)
    with pytest.raises(LateTrade, match="whose lookback is kept"):
        online.update(RawTrade("AAA", start + timedelta(seconds=100.5), 50.0, 1.0, "late"))
    with pytest.raises(LateTrade, match="expected trading day >= 2024-03-07, got 2024-03-06"):
        online.update(RawTrade("AAA", start - timedelta(days=1), 50.0, 1.0, "yesterday"))
    assert online.kept("AAA") == 61  # refused trades leave no trace
    placed = online.update(RawTrade("AAA", start + timedelta(seconds=298.5), 50.0, 1.0, "ok"))
    assert placed.out_of_order  # within the kept minute: placed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", -1.0),
        ("price", float("nan")),
        ("volume", 0.0),
        ("volume", float("inf")),
    ],
)
def test_bad_raw_trades_are_refused_naming_the_field(field: str, value: float) -> None:
    values = {"price": 10.0, "volume": 5.0, field: value}
    with pytest.raises(DataError, match=f"expected a positive finite {field}"):
        RawTrade("AAA", datetime(2024, 3, 7, 15, tzinfo=UTC), **values)


def test_sessions_follow_new_york_time() -> None:
    assert session_of(datetime(2024, 3, 7, 14, 29, tzinfo=UTC)) == "pre"  # 09:29 EST
    assert session_of(datetime(2024, 3, 11, 13, 30, tzinfo=UTC)) == "regular"  # 09:30 EDT
    assert session_of(datetime(2024, 3, 7, 21, 0, tzinfo=UTC)) == "post"
    assert session_of(datetime(2024, 3, 9, 15, 0, tzinfo=UTC)) == "closed"  # Saturday
