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

    def score_rows(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score` for a few rows (serving): the same numbers, less fixed cost per call.

        Candidates whose library pays milliseconds of set-up per call (input validation,
        thread pools, per-tree Python calls) override this with a direct path; the default is
        :meth:`score` itself.
        """
        return self.score(X)

    def use_threads(self, n_jobs: int) -> AnomalyModel:
        """Score on ``n_jobs`` threads from now on: a model fitted on one thread (among
        other fits at once) and then served. The fitted trees are not touched."""
        self.n_jobs = n_jobs
        fitted = self.__dict__.get("model")
        if fitted is not None and "n_jobs" in getattr(fitted, "get_params", dict)():
            fitted.set_params(n_jobs=n_jobs)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """scikit-learn style two-column probabilities."""
        p = self.score(X)
        return np.column_stack([1.0 - p, p])

    def __getstate__(self) -> dict[str, Any]:
        # Caches built for score_rows (attributes named _row_*) are rebuilt after loading.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_row_")}


def candidate(name: str) -> Callable[[type[AnomalyModel]], type[AnomalyModel]]:
    """Class decorator registering a tournament candidate under ``name``."""

    def wrap(cls: type[AnomalyModel]) -> type[AnomalyModel]:
        if name in _CANDIDATES and _CANDIDATES[name] is not cls:
            raise ValueError(f"candidate {name!r}: registered twice")
        cls.name = name
        _CANDIDATES[name] = cls
        return cls

    return wrap


def registered(name: str) -> type[AnomalyModel]:
    """The candidate class registered as ``name`` (only modules already imported have
    registered theirs: :func:`finml.models.roster.candidates` imports them all).

    Raises:
        ConfigError: no candidate is registered as ``name``.
    """
    if name not in _CANDIDATES:
        raise ConfigError(
            f"models.candidates: expected names from {sorted(_CANDIDATES)}, got {name!r}"
        )
    return _CANDIDATES[name]


def registered_candidates() -> dict[str, type[AnomalyModel]]:
    """Every candidate class registered so far, by name."""
    return dict(_CANDIDATES)


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
        """A new float64 matrix of the features, NaN/inf imputed.

        Raises:
            DataError: a feature column is missing from ``frame``.
        """
        selected = self._select(frame)
        if any(dtype != np.float64 for dtype in selected.dtypes):
            selected = selected.astype(np.float64)
        return self.impute(selected.to_numpy(dtype=np.float64, copy=True))

    def impute(self, values: np.ndarray) -> np.ndarray:
        """``values`` (rows x ``features``, float64) with NaN/inf replaced by the training
        medians: a new matrix where anything is replaced, else ``values`` itself.

        Numpy, not pandas: the same numbers as ``replace`` + ``fillna`` on a frame, without
        their per-column cost (milliseconds for one row of 22 features).
        """
        bad = ~np.isfinite(values)
        if not bad.any():
            return values
        rows, columns = np.nonzero(bad)
        values = values.copy()
        values[rows, columns] = self._median_row[columns]
        return values

    @property
    def _median_row(self) -> np.ndarray:
        return np.array([self.medians.get(f, np.nan) for f in self.features], dtype=np.float64)

    def _select(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise DataError(
                f"model input: expected feature columns {list(self.features)}, missing {missing}"
            )
        if tuple(frame.columns) == self.features:
            return frame  # already the features, in order: no column selection
        return frame[list(self.features)]
