"""Training data: the feature-store contract and walk-forward folds without leakage."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from finml.errors import DataError, SchemaMismatch
from finml.models.data import feature_columns, split_from_frame, walk_forward_folds
from finml.models.synthetic import labelled_trades


def test_feature_columns_follow_the_contract() -> None:
    frame = labelled_trades(50)
    features = feature_columns(list(frame.columns))
    assert "label" not in features and "ts" not in features
    assert "_feature_table_version" not in features
    assert features[:2] == ("f0", "f1") and "session" in features


def test_split_records_feature_table_version_and_window() -> None:
    split = split_from_frame(labelled_trades(100).sample(frac=1, random_state=1), "train_set")
    assert split.feature_table_version == 3
    assert split.frame["ts"].is_monotonic_increasing
    assert split.window.startswith("2026-01-05T00:00:00")


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda f: f.drop(columns=["label"]), SchemaMismatch, "missing ['label']"),
        (lambda f: f.assign(label=2), DataError, "expected label in {0, 1}, got values [2]"),
        (lambda f: f.assign(f0="x"), SchemaMismatch, "expected numeric feature columns"),
        (lambda f: f.iloc[:0], DataError, "got 0 rows"),
    ],
)
def test_contract_violations_name_table_and_values(change, error, words) -> None:
    with pytest.raises(error, match="table train_set") as info:
        split_from_frame(change(labelled_trades(20)), "train_set")
    assert words in str(info.value)


def test_walk_forward_trains_only_on_the_past() -> None:
    ts = pd.Series(np.repeat(np.arange(50), 4))  # 4 rows share each instant
    folds = walk_forward_folds(ts, 3)
    assert len(folds) == 3
    for train, valid in folds:
        assert ts[train].max() < ts[valid].min()  # no instant on both sides
        assert train[0] == 0 and len(valid) > 0
    assert all(len(a[0]) < len(b[0]) for a, b in itertools.pairwise(folds))


def test_walk_forward_rejects_too_little_data() -> None:
    with pytest.raises(DataError, match="expected enough rows for 3 folds, got 2 rows"):
        walk_forward_folds(np.arange(2), 3)
