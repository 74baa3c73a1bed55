"""The z-score rule baseline every model must beat: flag a row when the |z-score| of one
feature is large. The feature is the one whose |z| ranks the training labels best (chosen on
the training rows only), so the baseline is the strongest single-feature rule, not a straw man.
It runs on the leaderboard like any candidate but can never win."""

from __future__ import annotations

import numpy as np

from finml.models.base import AnomalyModel, candidate
from finml.models.metrics import pr_auc


@candidate("zscore_rule")
class ZScoreRule(AnomalyModel):
    """score = |z| / (|z| + 3): monotone in |z|, in [0, 1), and 0.5 exactly at |z| = 3."""

    baseline = True
    default_params = {"z": 3.0}

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.mean = X.mean(axis=0)
        self.std = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        z = np.abs((X - self.mean) / self.std)
        quality = [pr_auc(y, z[:, j]) if 0 < y.sum() < len(y) else 0.0 for j in range(X.shape[1])]
        self.column = int(np.nanargmax(np.nan_to_num(quality, nan=0.0)))
        self.params = {**self.params, "feature_index": self.column}

    def score(self, X: np.ndarray) -> np.ndarray:
        z = np.abs((X[:, self.column] - self.mean[self.column]) / self.std[self.column])
        return z / (z + float(self.params["z"]))
