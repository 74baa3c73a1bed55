"""What a registered model learned: permutation feature importance and its holdout PR curve.

* **Feature importance** -- scikit-learn's ``permutation_importance`` of the winner's whole
  pyfunc (preprocessor, scorer, ensemble members alike) on the holdout, scored by PR-AUC: a
  feature's importance is the mean drop of holdout PR-AUC when its column is shuffled, over
  ``IMPORTANCE_REPEATS`` shuffles (``importance_std``: their spread). Model-agnostic, so the
  numbers compare across candidates and versions. At most ``IMPORTANCE_ROWS`` holdout rows
  are used: every positive, and a seeded sample of the negatives.
* **PR curve** -- precision and recall of the winner's holdout scores at each threshold,
  thinned to at most ``CURVE_POINTS`` points spread evenly along recall (end points kept).

Both are tables of rows per (candidate, feature) and (candidate, threshold); the training job
stamps them with the tournament and registered version (``feature_importance``,
``pr_curves``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.log import get_logger
from finml.models.metrics import pr_auc

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.pyfunc import AnomalyPyfunc
    from finml.models.tournament import TournamentResult

log = get_logger("models.explain")

IMPORTANCE_TABLE, CURVE_TABLE = "feature_importance", "pr_curves"
IMPORTANCE_ROWS = 10_000
IMPORTANCE_REPEATS = 3
CURVE_POINTS = 200
METHOD = "permutation_pr_auc"


def importance_rows(y: np.ndarray, limit: int = IMPORTANCE_ROWS, seed: int = 0) -> np.ndarray:
    """Row positions used for the importance: all when ``len(y) <= limit``; else every
    positive and a seeded uniform sample of the negatives, to ``limit`` rows (sorted)."""
    if len(y) <= limit:
        return np.arange(len(y))
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y != 1)
    keep = max(limit - len(positives), 0)
    chosen = np.random.default_rng(seed).choice(negatives, size=keep, replace=False)
    return np.sort(np.r_[positives[:limit], chosen])


def permutation_importance(
    model: AnomalyPyfunc,
    test: Split,
    *,
    repeats: int = IMPORTANCE_REPEATS,
    rows: int = IMPORTANCE_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model feature: ``feature``, ``importance`` (mean PR-AUC drop),
    ``importance_std``, ``rank`` (1 = most important; ties share no rank, order by name),
    ``method``; empty when the holdout has no positive (PR-AUC is undefined)."""
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    features = list(model.features)
    y = test.y
    columns = ["feature", "importance", "importance_std", "rank", "method"]
    if not (y == 1).any():
        return pd.DataFrame(columns=columns)
    chosen = importance_rows(y, rows, seed)
    values = test.frame[features].to_numpy(dtype=np.float64)[chosen]

    def score(estimator: Any, x: np.ndarray, labels: np.ndarray) -> float:
        return pr_auc(labels, estimator.model.predict_array(x)[0])

    found = sk_permutation_importance(
        _Fitted(model), values, y[chosen], scoring=score, n_repeats=repeats, random_state=seed
    )
    frame = pd.DataFrame(
        {
            "feature": features,
            "importance": found.importances_mean.astype(np.float64),
            "importance_std": found.importances_std.astype(np.float64),
        }
    ).sort_values(["importance", "feature"], ascending=[False, True], kind="mergesort")
    frame["rank"] = np.arange(1, len(frame) + 1, dtype=np.int32)
    frame["method"] = METHOD
    return frame.reset_index(drop=True)[columns]


class _Fitted:
    """The registered pyfunc, already fitted, as the estimator scikit-learn's validation
    expects (an object with ``fit``); only ``scoring`` calls it."""

    def __init__(self, model: AnomalyPyfunc) -> None:
        self.model = model

    def fit(self, *_: Any) -> _Fitted:
        return self


def pr_curve(y: np.ndarray, scores: np.ndarray, points: int = CURVE_POINTS) -> pd.DataFrame:
    """``threshold``, ``precision``, ``recall`` of ``scores`` against ``y``, thinned to at
    most ``points`` rows spread evenly along recall (the first and last kept), by falling
    threshold; empty without a positive."""
    from sklearn.metrics import precision_recall_curve

    columns = ["threshold", "precision", "recall"]
    if not (np.asarray(y) == 1).any():
        return pd.DataFrame(columns=columns)
    precision, recall, thresholds = precision_recall_curve(y, scores)
    # sklearn ends with (precision 1, recall 0) without a threshold: drop it
    frame = pd.DataFrame(
        {"threshold": thresholds, "precision": precision[:-1], "recall": recall[:-1]}
    ).iloc[::-1]
    if len(frame) > points:
        targets = np.linspace(frame["recall"].min(), frame["recall"].max(), points)
        where = np.searchsorted(frame["recall"].to_numpy(), targets, side="left")
        where = np.unique(np.clip(np.r_[0, where, len(frame) - 1], 0, len(frame) - 1))
        frame = frame.iloc[where]
    return frame.reset_index(drop=True).astype(np.float64)[columns]


def explain_winner(result: TournamentResult, test: Split) -> dict[str, pd.DataFrame]:
    """The winner's feature importance and holdout PR curve (tables keyed by
    ``IMPORTANCE_TABLE`` / ``CURVE_TABLE``, each with a ``candidate`` column), logged to the
    active MLflow run as ``feature_importance.csv`` and ``pr_curve.csv``; a table is left out
    when the winner has no model or no holdout scores."""
    import time

    import mlflow

    winner = result.winner
    found: dict[str, pd.DataFrame] = {}
    started = time.perf_counter()
    if winner.model is not None:
        found[IMPORTANCE_TABLE] = permutation_importance(winner.model, test)
    if winner.holdout_scores is not None:
        found[CURVE_TABLE] = pr_curve(test.y, winner.holdout_scores)
    for table, artifact in (
        (IMPORTANCE_TABLE, "feature_importance.csv"),
        (CURVE_TABLE, "pr_curve.csv"),
    ):
        if table in found:
            found[table].insert(0, "candidate", winner.name)
            mlflow.log_text(found[table].to_csv(index=False), artifact)
    log.info(
        "model_explained",
        winner=winner.name,
        top=found[IMPORTANCE_TABLE]["feature"].head(3).tolist()
        if IMPORTANCE_TABLE in found
        else [],
        seconds=round(time.perf_counter() - started, 2),
    )
    return found
