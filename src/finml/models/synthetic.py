"""Small synthetic train/test sets following the feature-store contract, for tests and the
benchmark (the real ones come from ``finml.features``). Anomalies are rare (≈2 %) and shift a
few features, so the label is learnable but not trivially separable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

SYMBOLS = ("AAPL", "MSFT", "NVDA", "JPM")


def labelled_trades(
    rows: int, *, seed: int = 0, features: int = 8, rate: float = 0.02, start: str = "2026-01-05"
) -> pd.DataFrame:
    """``rows`` time-ordered rows: keys (symbol, ts, trade_id), ``label``, ``f0..`` doubles,
    ``session`` (0..3) and ``_feature_table_version``."""
    rng = np.random.default_rng(seed)
    label = (rng.random(rows) < rate).astype(np.int32)
    X = rng.normal(size=(rows, features))
    # anomalies: a price jump (f0, either sign), a volume burst (f1), a wider spread (f2)
    X[:, 0] += label * rng.choice([-1.0, 1.0], rows) * rng.uniform(1.5, 5.0, rows)
    X[:, 1] += label * rng.uniform(0.5, 4.0, rows)
    X[:, 2] += label * rng.normal(1.0, 1.0, rows)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame["session"] = rng.integers(0, 4, rows).astype(np.float64)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(rows) * 2, unit="s")
    frame.insert(0, "symbol", np.array(SYMBOLS)[np.arange(rows) % len(SYMBOLS)])
    frame.insert(1, "ts", ts)
    frame.insert(2, "trade_id", [f"{seed:02d}{i:012d}" for i in range(rows)])
    frame.insert(3, "label", label)
    frame["_feature_table_version"] = np.int64(3)
    return frame


def train_test(rows: int, *, seed: int = 0, test_share: float = 0.25, **kwargs):
    """(train, test) frames, the test set strictly after the training set in time."""
    frame = labelled_trades(rows, seed=seed, **kwargs)
    cut = int(rows * (1 - test_share))
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def trained_ensemble(
    rows: int = 4000,
    *,
    seed: int = 0,
    members: tuple[str, ...] = ("lightgbm", "xgboost", "random_forest", "isolation_forest"),
    threshold: float = 0.3,
) -> tuple[Any, pd.DataFrame]:
    """A real anomaly pyfunc, built as the tournament builds its ensemble: each member a
    default-sized candidate fitted on ``rows``·0.75 synthetic trades, composed by soft voting
    (weights from a made-up fold history). Returns the pyfunc and the held-out test frame."""
    from finml.models.base import Preprocessor
    from finml.models.ensemble import SoftVotingEnsemble
    from finml.models.pyfunc import AnomalyPyfunc
    from finml.models.roster import build

    train, test = train_test(rows, seed=seed)
    features = (*(c for c in train.columns if c.startswith("f")), "session")
    prep = Preprocessor(features).fit(train)
    X, y = prep.transform(train), train["label"].to_numpy()
    fitted = {name: build(name, seed=seed, n_jobs=2).fit(X, y, features) for name in members}
    history = {name: [0.4 + 0.1 * i, 0.5] for i, name in enumerate(members)}
    ensemble = SoftVotingEnsemble.compose(fitted, history, alpha=0.5, seed=seed)
    return AnomalyPyfunc(ensemble, prep, threshold), test
