"""The built-in tournament candidates: three supervised tree ensembles and one unsupervised
detector. Defaults are sized for the fast tournament (≈150k rows, 2 cores)."""

from __future__ import annotations

import numpy as np

from finml.models.base import AnomalyModel, candidate


@candidate("lightgbm")
class LightGBMModel(AnomalyModel):
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
            random_state=self.seed,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        ).fit(X, y)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]


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


@candidate("random_forest")
class RandomForestModel(AnomalyModel):
    # Sized for speed: scikit-learn's forest is the slowest candidate (100 trees of depth 12
    # on half the rows took 280 s of a 800 s tournament on 150k rows on a loaded machine).
    default_params = {
        "n_estimators": 60,
        "max_depth": 10,
        "min_samples_leaf": 10,
        "max_features": "sqrt",
        "max_samples": 0.25,
    }
    search_space = {
        "n_estimators": ("int", 50, 200),
        "max_depth": ("int", 4, 20),
        "min_samples_leaf": ("int", 1, 50),
    }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.model = RandomForestClassifier(
            **self.params, random_state=self.seed, n_jobs=self.n_jobs
        ).fit(X, y)
        # joblib start-up costs more than scoring one row (92 ms p50 under load); the trees
        # and so the predictions are the same with one job
        self.model.set_params(n_jobs=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, 1]


@candidate("isolation_forest")
class IsolationForestModel(AnomalyModel):
    """Unsupervised: labels are ignored. Raw anomaly scores are mapped to [0, 1] by the
    empirical CDF of the training scores (0.99 = more anomalous than 99 % of training rows)."""

    supervised = False
    default_params = {"n_estimators": 100, "max_samples": 256}
    search_space = {"n_estimators": ("int", 50, 300), "max_samples": ("int", 64, 1024)}

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(**self.params, random_state=self.seed, n_jobs=self.n_jobs).fit(
            X
        )
        self.reference = np.sort(-self.model.score_samples(X))

    def score(self, X: np.ndarray) -> np.ndarray:
        raw = -self.model.score_samples(X)
        return np.searchsorted(self.reference, raw, side="right") / len(self.reference)
