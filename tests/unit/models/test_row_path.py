"""The row path (serving a few rows) scores exactly as the libraries' batch calls, on a real
ensemble of the default-sized candidates (LightGBM, XGBoost, random forest, isolation forest).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finml.models.candidates import PackedTrees
from finml.models.pyfunc import ROW_PATH_ROWS, AnomalyPyfunc
from finml.models.synthetic import trained_ensemble

TOLERANCE = 1e-9  # the bar; in practice the two paths agree to the last bit


@pytest.fixture(scope="module")
def model() -> tuple[AnomalyPyfunc, pd.DataFrame]:
    return trained_ensemble(4000, seed=11)


def batch_scores(model: AnomalyPyfunc, frame: pd.DataFrame) -> np.ndarray:
    """The reference: every member's library batch call (``score``), as before the row path."""
    raw = model.scorer.score(model.preprocessor.transform(frame))
    return np.asarray(np.clip(raw, 0.0, 1.0), dtype=np.float64)


def test_every_row_alone_scores_as_in_the_batch(model) -> None:
    pyfunc, test = model
    frame = test[list(pyfunc.features)]
    expected = batch_scores(pyfunc, frame)
    values = frame.to_numpy(np.float64)
    alone = np.array([pyfunc.predict_array(values[i : i + 1])[0][0] for i in range(len(values))])
    np.testing.assert_allclose(alone, expected, rtol=0, atol=TOLERANCE)
    assert np.array_equal(alone, expected)  # the sums run in the same order: bit for bit
    predictions = np.array([pyfunc.predict_array(values[i : i + 1])[1][0] for i in range(50)])
    np.testing.assert_array_equal(predictions, (expected[:50] >= pyfunc.threshold).astype(int))
    assert len(np.unique(expected)) > 100  # a real spread of scores, not a constant


@pytest.mark.parametrize("rows", [2, 7, ROW_PATH_ROWS])
def test_small_batches_score_as_the_big_one(model, rows: int) -> None:
    pyfunc, test = model
    frame = test[list(pyfunc.features)].iloc[:210]
    expected = batch_scores(pyfunc, frame)
    chunks = [pyfunc.score_frame(frame.iloc[i : i + rows]) for i in range(0, len(frame), rows)]
    got = pd.concat(chunks)
    np.testing.assert_allclose(got["score"].to_numpy(), expected, rtol=0, atol=TOLERANCE)
    assert list(got.index) == list(frame.index)


def test_each_member_row_path_matches_its_batch_path(model) -> None:
    pyfunc, test = model
    X = pyfunc.preprocessor.transform(test.iloc[:300])
    for name, member in pyfunc.scorer.members.items():
        alone = np.concatenate([member.score_rows(X[i : i + 1]) for i in range(len(X))])
        np.testing.assert_allclose(alone, member.score(X), rtol=0, atol=TOLERANCE, err_msg=name)


def split_values(model: AnomalyPyfunc, column: int) -> list[float]:
    """Values on and just beside the isolation forest's split thresholds of ``column``, as
    float32 (what its packed trees compare): where a wrong ``<=`` would send a row the other
    way. (The boosters' row path is their own predict call: the same comparisons.)"""
    found: list[float] = []
    forest = model.scorer.members["isolation_forest"].model
    for tree in forest.estimators_[:5]:
        used = tree.tree_.feature == column
        for t in tree.tree_.threshold[used][:4]:
            near = np.float32(t)
            found += [float(near), float(np.nextafter(near, np.float32(np.inf)))]
    return found or [0.0]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_rows_on_split_thresholds_and_odd_values_score_as_the_batch(model, data) -> None:
    pyfunc, _ = model
    width = len(pyfunc.features)
    rows = []
    for _ in range(data.draw(st.integers(1, 5))):
        row = [
            data.draw(
                st.one_of(
                    st.sampled_from(split_values(pyfunc, j)),
                    st.floats(-50, 50),
                    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 3.0]),  # imputed: medians
                )
            )
            for j in range(width)
        ]
        rows.append(row)
    values = np.array(rows, dtype=np.float64)
    frame = pd.DataFrame(values, columns=list(pyfunc.features))
    scores, predictions = pyfunc.predict_array(values)
    np.testing.assert_allclose(scores, batch_scores(pyfunc, frame), rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(predictions, (scores >= pyfunc.threshold).astype(np.int64))


def test_a_value_beyond_float32_scores_as_the_batch_path_scores(model) -> None:
    pyfunc, test = model
    values = test[list(pyfunc.features)].to_numpy(np.float64)[:3].copy()
    values[0, 0] = 1e39  # finite in float64, inf to float32 trees: past every split
    expected = batch_scores(pyfunc, pd.DataFrame(values, columns=list(pyfunc.features)))
    alone = np.array([pyfunc.predict_array(values[i : i + 1])[0][0] for i in range(3)])
    np.testing.assert_array_equal(alone, expected)
    assert np.isfinite(expected).all()
    assert expected[0] != batch_scores(pyfunc, test[list(pyfunc.features)].iloc[:1])[0]


def test_pickled_model_leaves_its_row_caches_behind(model) -> None:
    pyfunc, test = model
    values = test[list(pyfunc.features)].to_numpy(np.float64)[:3]
    before = pyfunc.predict_array(values)[0]  # builds the packed trees
    forest = pyfunc.scorer.members["isolation_forest"]
    assert isinstance(forest.__dict__["_row_trees"], PackedTrees)
    assert "_row_booster" in pyfunc.scorer.members["xgboost"].__dict__  # the 1-thread copy
    restored = pickle.loads(pickle.dumps(pyfunc))
    for member in restored.scorer.members.values():
        assert not [k for k in member.__dict__ if k.startswith("_row_")]
    np.testing.assert_array_equal(restored.predict_array(values)[0], before)


def test_preprocessor_imputes_as_pandas_did(model) -> None:
    pyfunc, test = model
    prep = pyfunc.preprocessor
    frame = test[list(prep.features)].iloc[:40].copy()
    frame.iloc[::3, 0] = np.nan
    frame.iloc[1::4, 2] = np.inf
    frame.iloc[2::5, 3] = -np.inf
    reference = frame.replace([np.inf, -np.inf], np.nan).fillna(prep.medians).to_numpy()
    got = prep.transform(frame)
    np.testing.assert_array_equal(got, reference)
    assert np.isnan(frame.iloc[0, 0])  # the caller's frame is left as it was
