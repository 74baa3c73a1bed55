"""The one interface every anomaly model implements, and the decorator that registers it.

A candidate is a class with ``name``, ``default_params``, ``fit(X, y)`` and
``score(X) -> probabilities in [0, 1]``; adding one to the tournament is one class and one
``@candidate("name")`` line. Inputs are float64 matrices already preprocessed by
:class:`Preprocessor` (the pyfunc carries both, so serving sees the same transformation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from finml.errors import ConfigError, DataError

_CANDIDATES: dict[str, type[AnomalyModel]] = {}


class AnomalyModel:
    """Base class: a binary anomaly scorer. Subclasses set ``name``/``default_params`` and
    implement ``_fit`` and ``score``."""

    name: ClassVar[str] = "base"
    supervised: ClassVar[bool] = True
    default_params: ClassVar[dict[str, Any]] = {}
    # Optuna search space: param -> (kind, low, high); kind in {"int", "float", "log"}.
    search_space: ClassVar[dict[str, tuple[str, float, float]]] = {}

    def __init__(self, params: dict[str, Any] | None = None, *, seed: int = 42, n_jobs: int = 2):
        self.params = {**self.default_params, **(params or {})}
        self.seed = seed
        self.n_jobs = n_jobs
        self.features: tuple[str, ...] = ()

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str] = ()) -> AnomalyModel:
        """Fit on float matrix ``X`` and 0/1 labels ``y`` (ignored if unsupervised)."""
        self.features = tuple(features)
        self._fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64))
        return self

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly probability in [0, 1], one per row of ``X``."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """scikit-learn style two-column probabilities."""
        p = self.score(X)
        return np.column_stack([1.0 - p, p])


def candidate(name: str) -> Callable[[type[AnomalyModel]], type[AnomalyModel]]:
    """Class decorator registering a tournament candidate under ``name``."""

    def wrap(cls: type[AnomalyModel]) -> type[AnomalyModel]:
        if name in _CANDIDATES and _CANDIDATES[name] is not cls:
            raise ValueError(f"candidate {name!r}: registered twice")
        cls.name = name
        _CANDIDATES[name] = cls
        return cls

    return wrap


def candidates() -> dict[str, type[AnomalyModel]]:
    """Every registered candidate class by name."""
    import finml.models.baseline
    import finml.models.candidates
    import finml.models.ensemble  # noqa: F401

    return dict(_CANDIDATES)


def build(name: str, params: dict[str, Any] | None = None, *, seed: int, n_jobs: int):
    """A fresh, unfitted candidate ``name``.

    Raises:
        ConfigError: ``name`` is not a registered candidate.
    """
    known = candidates()
    if name not in known:
        raise ConfigError(f"models.candidates: expected names from {sorted(known)}, got {name!r}")
    return known[name](params, seed=seed, n_jobs=n_jobs)


@dataclass
class Preprocessor:
    """Feature selection + imputation: picks ``features`` in order and replaces NaN/inf by
    the training medians (trees need no scaling)."""

    features: tuple[str, ...]
    medians: dict[str, float] = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        values = self._select(frame).replace([np.inf, -np.inf], np.nan)
        medians = values.median(skipna=True).fillna(0.0)
        self.medians = {k: float(v) for k, v in medians.items()}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """A float64 matrix of the features, NaN/inf imputed.

        Raises:
            DataError: a feature column is missing from ``frame``.
        """
        values = self._select(frame).replace([np.inf, -np.inf], np.nan)
        return values.fillna(self.medians).to_numpy(dtype=np.float64)

    def _select(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise DataError(
                f"model input: expected feature columns {list(self.features)}, missing {missing}"
            )
        return frame[list(self.features)].astype(np.float64)
