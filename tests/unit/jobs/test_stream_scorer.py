"""The streaming scorer's state: a stream cut into micro-batches, with its state dumped and
reloaded between them (as the RocksDB state store does), decides exactly as one pass over
the same trades; duplicates yield nothing, late trades a NO_ACTION row with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from finml.errors import JobError
from finml.features.online import OnlineFeatures, RawTrade
from finml.features.settings import FeatureSettings
from finml.jobs.stream_scorer import StreamScorer
from finml.serving.decide import RegimeView
from finml.serving.decisions import DecisionPolicy
from finml.serving.decisions.records import DECISIONS

START = datetime(2024, 3, 7, 15, 0, tzinfo=UTC)  # Thursday 10:00 in New York
EAGER = DecisionPolicy(min_confidence=0.3, payoff_ratio=1e9, max_holding_seconds=120)


class SpikeModel:
    """A real (tiny) model: the probability grows with |return_z|; null features score 0."""

    name, version = "m", 7
    features = ("return_z", "trades_60s")

    def score(self, values: np.ndarray, columns: tuple[str, ...]):
        z = np.nan_to_num(np.abs(values[:, columns.index("return_z")]))
        scores = np.minimum(1.0, z / 3.0)
        return scores, (scores > 0.5).astype(int)


def _trades(n: int = 400) -> pd.DataFrame:
    g = np.random.default_rng(11)
    rows = []
    for k, symbol in enumerate(("AAA", "BBB")):
        returns = g.normal(0, 0.001, n)
        returns[g.choice(n, 12, replace=False)] += 0.01 * g.choice([-1, 1], 12)
        prices = np.round(100 * (k + 1) * np.exp(np.cumsum(returns)), 4)
        for i in range(n):
            ts = START + timedelta(seconds=3 * i + k)
            rows.append((symbol, ts, f"{symbol}{i}", float(prices[i]), float(g.integers(1, 500))))
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "trade_id", "price", "volume"])
    return frame.sample(frac=1.0, random_state=3)  # a batch's rows come in any order


def _run(batches: list[pd.DataFrame], reload: bool) -> pd.DataFrame:
    scorer = StreamScorer(FeatureSettings(), EAGER, "acct")
    out = []
    for batch in batches:
        out.append(scorer.step(batch, SpikeModel(), RegimeView(None), run_id="q", decided_at=START))
        if reload:
            scorer = StreamScorer.loads(scorer.dumps())
    return pd.concat(out, ignore_index=True).drop(columns="decided_at")


def _in_time_batches(trades: pd.DataFrame, cuts: int) -> list[pd.DataFrame]:
    ordered = trades.sort_values("ts")
    edges = np.linspace(0, len(ordered), cuts + 1).astype(int)
    return [ordered.iloc[a:b].sample(frac=1.0, random_state=a) for a, b in pairwise(edges)]


def test_micro_batches_with_reloaded_state_decide_as_one_pass() -> None:
    trades = _trades()
    whole = _run([trades], reload=False)
    cut = _run(_in_time_batches(trades, 7), reload=True)
    assert list(whole.columns) == [c for c in DECISIONS.names if c != "decided_at"]
    assert len(whole) == len(trades) == whole["trade_id"].nunique()
    actions = whole["action"].value_counts()
    # the portfolio state matters: positions are opened and later closed
    assert actions["TAKE_ACTION"] >= 3 and actions["EXIT_POSITION"] >= 3, actions
    pd.testing.assert_frame_equal(whole, cut)
    # a fresh engine per batch (state lost) would decide otherwise
    lost = pd.concat(
        [_run([b], reload=False) for b in _in_time_batches(trades, 7)], ignore_index=True
    )
    assert not lost[["action", "equity"]].equals(whole[["action", "equity"]])


def test_probabilities_are_the_models_on_the_online_features() -> None:
    trades = _trades(200)
    out = _run([trades], reload=False).set_index("trade_id")
    online = OnlineFeatures(FeatureSettings())
    for t in trades.sort_values(["ts", "trade_id"]).itertuples(index=False):
        z = online.update(RawTrade(t.symbol, t.ts, t.price, t.volume, t.trade_id)).features
        expected = min(1.0, abs(z["return_z"] or 0.0) / 3.0)
        assert out.loc[t.trade_id, "probability"] == pytest.approx(expected, abs=1e-12)


def test_duplicates_yield_nothing_and_late_trades_say_why() -> None:
    trades = _trades(400).sort_values("ts")
    scorer = StreamScorer(FeatureSettings(), EAGER, "acct")
    first = scorer.step(trades, SpikeModel(), RegimeView(None), run_id="q", decided_at=START)
    again = trades.iloc[-5:]
    late = trades.iloc[:1].assign(trade_id="late", ts=START - timedelta(days=1))
    second = scorer.step(
        pd.concat([again, late]), SpikeModel(), RegimeView(None), run_id="q", decided_at=START
    )
    assert len(first) == 800  # two symbols
    assert second["trade_id"].tolist() == ["late"]
    assert second["action"].iloc[0] == "NO_ACTION"
    assert second["reason"].iloc[0].startswith("not scored: trade AAA")
    assert "trading day" in second["reason"].iloc[0]
    assert pd.isna(second["probability"].iloc[0])
    assert scorer.seen == 801


def test_a_state_of_another_format_is_refused() -> None:
    import pickle

    blob = pickle.dumps((0, StreamScorer(FeatureSettings(), EAGER, "acct")))
    with pytest.raises(JobError, match="expected format 1, got 0"):
        StreamScorer.loads(blob)
