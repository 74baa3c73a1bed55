"""The built-in tournament candidates: three supervised tree ensembles (gradient-boosted
LightGBM and XGBoost, a random forest grown by LightGBM) and one unsupervised detector.
Defaults are sized for the fast tournament (≈150k rows, 2 cores).

Each also has a row path (:meth:`~finml.models.base.AnomalyModel.score_rows`) for serving a
few rows: the boosters are called directly (no scikit-learn wrapper, no DMatrix), and the
isolation forest's trees are walked for all trees at once by :class:`PackedTrees` instead of
one Python call per tree under joblib. Both paths give the same numbers (tested row by row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from finml.models.base import AnomalyModel, candidate


@candidate("lightgbm")
class LightGBMModel(AnomalyModel):
    boosting: ClassVar[str] = "gbdt"
    default_params = {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
    }
    search_space = {
        "n_estimators": ("int", 100, 400),
        "learning_rate": ("log", 0.01, 0.2),
        "num_leaves": ("int", 8, 64),
        "min_child_samples": ("int", 5, 100),
    }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from lightgbm import LGBMClassifier

        # deterministic + row-wise histograms: same seed, same trees on any thread count
        self.model = LGBMClassifier(
            **self.params,
            boosting_type=self.boosting,
            random_state=self.seed,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        ).fit(X, y)

    def score(self, X: np.ndarray) -> np.ndarray:
        # LightGBM types its outputs as arrays, sparse matrices or lists; on dense input it
        # returns an ndarray, which np.asarray passes through without a copy.
        return np.asarray(self.model.predict_proba(X))[:, 1]

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        # What predict_proba calls after its input checks: the binary probability itself. One
        # thread: a few rows gain nothing from a second and may wait for a busy core.
        return np.asarray(self.model.booster_.predict(X, num_threads=1))


@candidate("xgboost")
class XGBoostModel(AnomalyModel):
    default_params = {
        "n_estimators": 200,
        "learning_rate": 0.1,
        "max_depth": 6,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    }
    search_space = {
        "n_estimators": ("int", 100, 400),
        "learning_rate": ("log", 0.01, 0.3),
        "max_depth": ("int", 3, 10),
    }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from xgboost import XGBClassifier

        self.model = XGBClassifier(
            **self.params,
            tree_method="hist",
            random_state=self.seed,
            n_jobs=self.n_jobs,
            eval_metric="aucpr",
        ).fit(X, y)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1].astype(np.float64)

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        # predict_proba's own in-place prediction, without its wrapper: column 1 is this value.
        # On a one-thread copy of the booster (same trees), as for LightGBM.
        if "_row_booster" not in self.__dict__:
            self._row_booster = self.model.get_booster().copy()
            self._row_booster.set_param({"nthread": 1})
        return self._row_booster.inplace_predict(X, missing=self.model.missing).astype(np.float64)


@candidate("random_forest")
class RandomForestModel(LightGBMModel):
    """A random forest (bagged, fully independent trees whose predictions are averaged) grown
    by LightGBM's ``rf`` boosting: histogram splits, so it fits ~10x faster than
    scikit-learn's exact-split forest at the same PR-AUC (1M synthetic rows: 6.3 s vs 62 s,
    0.853 vs 0.854). ``bagging_fraction`` is each tree's row sample (scikit-learn's
    ``max_samples``), ``feature_fraction_bynode`` the features tried at each split
    (``max_features``)."""

    boosting = "rf"
    default_params = {
        "n_estimators": 60,
        "num_leaves": 255,
        "max_depth": 10,
        "min_child_samples": 10,
        "bagging_fraction": 0.25,
        "bagging_freq": 1,
        "feature_fraction_bynode": 0.5,
    }
    search_space = {
        "n_estimators": ("int", 50, 200),
        "max_depth": ("int", 4, 20),
        "min_child_samples": ("int", 1, 50),
    }


@candidate("isolation_forest")
class IsolationForestModel(AnomalyModel):
    """Unsupervised trees; the labels only calibrate. The forest never sees them: its raw
    anomaly score (``-score_samples``) is mapped to a probability of an anomaly by Platt
    scaling (a logistic fit of the training labels on the raw score). The map is monotone,
    so the ranking (PR-AUC, ROC-AUC) is the forest's own, while Brier and calibration error
    measure probabilities. Without both classes in the training labels the score is the
    empirical CDF of the training scores (0.99 = more anomalous than 99 % of them), a rank."""

    supervised = False
    default_params = {"n_estimators": 100, "max_samples": 256}
    search_space = {"n_estimators": ("int", 50, 300), "max_samples": ("int", 64, 1024)}

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(**self.params, random_state=self.seed, n_jobs=self.n_jobs).fit(
            X
        )
        raw = -self.model.score_samples(X)
        self.reference = np.sort(raw)
        self.platt = _platt(raw, y)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self._probability(-self.model.score_samples(X))

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        x32 = finite_float32(X)
        if x32 is None:
            return self.score(X)
        if "_row_trees" not in self.__dict__:
            self._row_trees = self._packed()
        # score_samples: path lengths added in tree order, then 2 ** -(depth / c(max_samples))
        depths = self._row_trees.leaf_values(x32).cumsum(axis=1)[:, -1]
        denominator = len(self._row_trees) * self._row_c
        ratio = np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)
        return self._probability(2**-ratio)

    def _probability(self, raw: np.ndarray) -> np.ndarray:
        platt = self.__dict__.get("platt")  # None: one class, or a model pickled before it
        if platt is None:
            return np.searchsorted(self.reference, raw, side="right") / len(self.reference)
        slope, intercept = platt
        return np.asarray(expit(slope * raw + intercept), dtype=float)

    def _packed(self) -> PackedTrees:
        """The trees with each leaf's path length (depth + c(leaf size) - 1), as
        ``score_samples`` adds them; the forest's feature subsets mapped back to columns."""
        from sklearn.ensemble._iforest import _average_path_length

        forest = self.model
        self._row_c = _average_path_length([forest._max_samples])
        subsets = forest._max_features != forest.n_features_in_
        return PackedTrees(
            [e.tree_ for e in forest.estimators_],
            [
                lengths + averages - 1.0
                for lengths, averages in zip(
                    forest._decision_path_lengths,
                    forest._average_path_length_per_tree,
                    strict=True,
                )
            ],
            forest.estimators_features_ if subsets else None,
        )


def _symmetric(X: np.ndarray) -> np.ndarray:
    """``X`` beside ``|X|``: a linear model then sees both tails of a feature (a return 5
    sigma up or down) as far from normal, which trees find by splitting twice."""
    return np.hstack([X, np.abs(X)])


@candidate("logistic_regression")
class LogisticRegressionModel(AnomalyModel):
    """Seed 002's linear member: L2 logistic regression on the robust-scaled features and
    their absolute values (:func:`_symmetric`); its probabilities are its own."""

    default_params = {"C": 1.0}
    search_space = {"C": ("log", 1e-3, 100.0)}

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import RobustScaler

        self.model = make_pipeline(
            RobustScaler(quantile_range=(5.0, 95.0)),
            LogisticRegression(C=float(self.params["C"]), max_iter=2000),
        ).fit(_symmetric(X), y)

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(_symmetric(X))[:, 1], dtype=np.float64)


@candidate("svm")
class SvmModel(AnomalyModel):
    """Seed 002's SVM member, sized for millions of rows: an RBF kernel approximated by
    ``n_components`` Nystroem features (a kernel SVC is quadratic in rows) on the
    robust-scaled features and their absolute values, a linear SVM on them, and its margin
    turned into a probability by Platt scaling on the training labels."""

    default_params = {"C": 1.0, "gamma": 0.05, "n_components": 300}
    search_space = {
        "C": ("log", 1e-2, 100.0),
        "gamma": ("log", 1e-3, 1.0),
        "n_components": ("int", 100, 600),
    }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.kernel_approximation import Nystroem
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import RobustScaler
        from sklearn.svm import LinearSVC

        self.model = make_pipeline(
            RobustScaler(quantile_range=(5.0, 95.0)),
            Nystroem(
                gamma=float(self.params["gamma"]),
                n_components=int(self.params["n_components"]),
                random_state=self.seed,
            ),
            LinearSVC(C=float(self.params["C"]), max_iter=5000, random_state=self.seed),
        ).fit(_symmetric(X), y)
        margin = self.model.decision_function(_symmetric(X))
        self.platt = _platt(margin, y) or (1.0, 0.0)  # a falling or one-class fit: the logistic

    def score(self, X: np.ndarray) -> np.ndarray:
        slope, intercept = self.platt
        margin = self.model.decision_function(_symmetric(X))
        return np.asarray(expit(slope * margin + intercept), dtype=np.float64)


def _platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Platt scaling: ``(slope, intercept)`` of a logistic regression of the labels on the
    raw score (unregularised, so it is the maximum-likelihood calibration); None unless
    both classes are present and a higher raw score means a likelier anomaly."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(y)
    if labels.size == 0 or np.unique(labels).size < 2:
        return None
    fit = LogisticRegression(C=np.inf, max_iter=1000).fit(raw.reshape(-1, 1), labels)
    slope = float(fit.coef_[0, 0])
    # A falling map would reverse the forest's ranking: keep its rank (the CDF) instead.
    return (slope, float(fit.intercept_[0])) if slope > 0 else None


def finite_float32(X: np.ndarray) -> np.ndarray | None:
    """``X`` as float32, as scikit-learn's trees read it; None if a value is not finite there
    (NaN, inf or beyond the float32 range), which the caller leaves to scikit-learn."""
    with np.errstate(over="ignore"):  # an overflow is the answer here, not a surprise
        x32 = np.asarray(X, dtype=np.float32)
    return x32 if np.isfinite(x32).all() else None


class PackedTrees:
    """Fitted scikit-learn trees in flat node arrays, walked for every tree at once.

    Scoring one row with scikit-learn costs a Python call per tree under joblib plus input
    validation (~7 ms for 60 trees); here each depth level is one numpy step over all
    (row, tree) pairs. A leaf points to itself, so rows that reach it early stay there.
    Rows go left when ``x <= threshold`` with ``x`` as float32 and the threshold a double,
    exactly the comparison scikit-learn's ``Tree.apply`` makes.

    ``leaf_values[i]`` holds one number per node of tree ``i`` (read at the leaf reached);
    ``features[i]``, if given, maps tree ``i``'s feature indices to columns of ``X``.
    """

    def __init__(
        self,
        trees: Sequence[Any],
        leaf_values: Sequence[np.ndarray],
        features: Sequence[np.ndarray] | None = None,
    ) -> None:
        offsets = np.cumsum([0] + [t.node_count for t in trees[:-1]])
        left, right, feature = [], [], []
        for i, (tree, offset) in enumerate(zip(trees, offsets, strict=True)):
            leaf = tree.children_left < 0
            nodes = np.arange(tree.node_count) + offset
            left.append(np.where(leaf, nodes, tree.children_left + offset))
            right.append(np.where(leaf, nodes, tree.children_right + offset))
            used = np.where(leaf, 0, tree.feature)
            feature.append(used if features is None else np.asarray(features[i])[used])
        self.left, self.right = np.concatenate(left), np.concatenate(right)
        self.feature = np.concatenate(feature)
        self.threshold = np.concatenate([t.threshold for t in trees])
        self.values = np.concatenate([np.asarray(v, dtype=np.float64) for v in leaf_values])
        self.roots = offsets
        self.depth = max(t.max_depth for t in trees)

    def __len__(self) -> int:
        return len(self.roots)

    def leaf_values(self, x32: np.ndarray) -> np.ndarray:
        """(rows x trees): the value of the leaf each row of ``x32`` reaches in each tree."""
        rows = np.arange(len(x32))[:, None]
        node = np.broadcast_to(self.roots, (len(x32), len(self.roots)))
        for _ in range(self.depth):
            go_left = x32[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.values[node]
