"""The pure parts of the replay A/B: which days are complete, how trades split into arms,
when the challenger counts as significantly worse, and the shared ab_tests schema."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from finml.models.replay_ab import challenger_arm, complete_days, training_end_day
from finml.serving.abtest import compare, confusion_of
from finml.serving.routing import BUCKETS, bucket

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def test_complete_days_need_label_coverage_and_follow_the_training_window() -> None:
    rows = pd.DataFrame({"_trade_date": [D1] * 4 + [D2] * 4 + [D3] * 4})
    labelled = pd.Series([True] * 4 + [True, True, True, False] + [True] + [False] * 3)
    assert complete_days(rows, labelled, coverage=0.75, after=None, days=1) == [D2]
    assert complete_days(rows, labelled, coverage=0.75, after=None, days=5) == [D1, D2]
    assert complete_days(rows, labelled, coverage=1.0, after=None, days=1) == [D1]
    assert complete_days(rows, labelled, coverage=0.75, after=D2, days=1) == []


def test_arms_follow_the_serving_router_bucket() -> None:
    ids = pd.Series([f"t{i}" for i in range(20_000)])
    arm = challenger_arm(ids, 5.0)
    assert 0.04 < arm.mean() < 0.06
    expected = [bucket(t) < 5.0 * BUCKETS / 100 for t in ids[:200]]
    assert arm[:200].tolist() == expected
    assert (challenger_arm(ids, 5.0) == arm).all()  # stable across calls


def test_challenger_worse_on_either_metric() -> None:
    y = np.array([1] * 100 + [0] * 900)
    good = confusion_of("champion", "1", y, np.r_[np.ones(90), np.zeros(910)])
    poor = confusion_of("challenger", "2", y, np.r_[np.ones(20), np.zeros(980)])
    assert (good.tp, good.fn, good.n) == (90, 10, 1000)
    worse = compare(good, poor, "recall", 0.05, 30)
    assert worse.decision == "keep_champion" and worse.challenger_worse
    better = compare(poor, good, "recall", 0.05, 30)
    assert better.decision == "promote_challenger" and not better.challenger_worse
    same = compare(good, good, "recall", 0.05, 30)
    assert same.decision == "inconclusive" and not same.challenger_worse


def test_training_end_day_is_the_new_york_date_of_the_last_training_row() -> None:
    tags = {"finml.data_window": "2026-03-01T14:30:00+00:00/2026-03-03T02:00:00+00:00"}
    assert training_end_day(tags) == D1  # 02:00 UTC is still the 2nd in New York
    assert training_end_day({}) is None


def test_a_challenger_with_better_f1_is_not_worse_though_its_recall_is_lower() -> None:
    from finml.models.replay_ab import ReplayAB, ReplayWindow
    from finml.serving.abtest import Confusion

    # The 30-day replay after the drift onset: the old champion flags twice the trades.
    champion = Confusion("champion", "1", 612, tp=24, fp=33, fn=1, tn=554)
    challenger = Confusion("challenger", "4", 622, tp=19, fp=0, fn=7, tn=596)
    comparison = compare(champion, challenger, "recall", 0.05, 20)
    assert comparison.challenger_worse  # on recall alone it would keep the champion
    window = ReplayWindow((date(2024, 1, 31),), pd.DataFrame(), 1, 1)
    result = ReplayAB("t", window, comparison, {})
    difference, bound = result.f1
    assert round(difference, 3) == round(38 / 45 - 48 / 82, 3) and bound > 0
    assert result.promote and "F1 not worse" in result.reason
    # The other way round the F1 loss is significant: the champion stays.
    flipped = ReplayAB("t", window, compare(challenger, champion, "recall", 0.05, 20), {})
    assert not flipped.promote and "F1 significantly worse" in flipped.reason
