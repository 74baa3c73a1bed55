"""Anomaly quality per injected kind: holdout rows matched to the simulator's kinds, and
each candidate's recall / precision / PR-AUC per kind, computed by hand here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.models.data import Split
from finml.models.kinds import UNKNOWN, holdout_kinds, kind_quality
from finml.models.tournament import CandidateResult, TournamentResult

T0 = pd.Timestamp("2024-01-02 15:00", tz="UTC")


def _result(*candidates: tuple[str, list[float], float]) -> TournamentResult:
    results = [
        CandidateResult(name, {}, [], threshold=threshold, holdout_scores=np.array(scores))
        for name, scores, threshold in candidates
    ]
    return TournamentResult(results, "pr_auc", train_rows=0, test_rows=len(candidates[0][1]))


def test_recall_precision_and_pr_auc_per_kind_by_hand() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    kinds = np.array([None, None, None, None, "spike", "spike", "burst", "burst"], dtype=object)
    # good: flags both spikes and one burst, and one normal row (score 0.6 >= 0.5)
    good = [0.1, 0.2, 0.6, 0.3, 0.9, 0.8, 0.7, 0.4]
    # blind: flags nothing at its threshold
    blind = [0.45, 0.45, 0.45, 0.45, 0.4, 0.4, 0.4, 0.4]
    quality = kind_quality(_result(("good", good, 0.5), ("blind", blind, 0.5)), y, kinds)
    assert quality["candidate"].tolist() == ["good", "good", "blind", "blind"]
    assert quality["anomaly_type"].tolist() == ["burst", "spike", "burst", "spike"]
    good_burst, good_spike, blind_burst, _ = quality.to_dict("records")
    assert (good_spike["positives"], good_spike["detected"], good_spike["recall"]) == (2, 2, 1.0)
    assert good_spike["precision"] == pytest.approx(2 / 3)  # 2 spikes, 1 normal flagged
    assert good_spike["pr_auc"] == pytest.approx(1.0)  # both spikes outscore every normal row
    assert (good_burst["detected"], good_burst["recall"]) == (1, 0.5)
    assert good_burst["precision"] == pytest.approx(1 / 2)
    # bursts 0.7 and 0.4 among normals 0.1 0.2 0.6 0.3: ranked 1st and 3rd, AP = (1 + 2/3) / 2
    assert good_burst["pr_auc"] == pytest.approx(5 / 6)
    assert (blind_burst["detected"], blind_burst["recall"]) == (0, 0.0)
    assert np.isnan(blind_burst["precision"])  # nothing flagged: precision undefined
    # both bursts (tied at 0.4) below every normal row: one PR point, recall 1 at 2/6
    assert blind_burst["pr_auc"] == pytest.approx(1 / 3)


def _split(frame: pd.DataFrame) -> Split:
    return Split("test_set", frame, ("x",), None)


def test_holdout_rows_get_their_simulated_kind(config) -> None:
    from finml.runtime.delta import DeltaTables

    tables = DeltaTables.from_config(config, None)
    ts = [T0 + pd.Timedelta(seconds=s) for s in range(5)]
    silver = pa.table(
        {
            "trade_id": ["a", "b", "c", "d", "e"],
            "symbol": ["AAPL"] * 5,
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "price": [100.0, 101.0, 250.0, 100.5, 99.0],
            "volume": [10.0, 10.0, 10.0, 9000.0, 10.0],
        }
    )
    ms = [int(t.value // 1_000_000) for t in ts]
    truth = pa.table(
        {
            "symbol": ["AAPL"] * 6,
            # c's print twice (a replayed copy without a kind, then the anomalous one)
            "ts_ms": [ms[0], ms[1], ms[2], ms[2], ms[3], ms[4]],
            "price": [100.0, 101.0, 250.0, 250.0, 100.5, 99.5],
            "volume": [10.0, 10.0, 10.0, 10.0, 9000.0, 10.0],
            "is_anomaly": [0, 0, 0, 1, 1, 0],
            "anomaly_type": [None, None, None, "fat_finger", "volume_burst", None],
        }
    )
    tables.table("silver_trades").append(silver)
    test = pd.DataFrame(
        {
            "symbol": "AAPL",
            "ts": ts,
            "trade_id": ["a", "b", "c", "d", "e"],
            "x": 0.0,
            # e is labelled but its print (price 99.0) has no truth row: unknown
            "label": [0, 0, 1, 1, 1],
        }
    )
    assert holdout_kinds(tables, _split(test)) is None  # no simulator truth: no kinds
    tables.table("sim_truth_trades").append(truth)
    kinds = holdout_kinds(tables, _split(test))
    assert kinds.tolist() == [None, None, "fat_finger", "volume_burst", UNKNOWN]
