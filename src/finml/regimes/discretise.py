"""Risk score -> regime id (0 Normal, 1 Stress, 2 Crisis) by thresholds.

Thresholds come from the config (``thresholds``), from fitted quantiles of the scores
(``quantiles``), or from a 1-D k-means on the log score (``kmeans``: the midpoints between
sorted cluster centres -- it finds the natural breaks whatever share of days each regime
has, which fixed quantiles cannot).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from finml.errors import DataError

Method = Callable[..., np.ndarray]
_METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    """Register a threshold-fitting method under ``name``."""

    def register(fn: Method) -> Method:
        _METHODS[name] = fn
        return fn

    return register


def fit_thresholds(scores: np.ndarray, name: str, **options: object) -> np.ndarray:
    """The two ascending thresholds separating Normal | Stress | Crisis.

    Raises:
        DataError: unknown method, no finite positive scores, or bad options.
    """
    if name not in _METHODS:
        raise DataError(f"regime method: expected one of {sorted(_METHODS)}, got {name!r}")
    finite = np.asarray(scores, dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        raise DataError("risk scores: expected at least one finite positive score, got none")
    cuts = np.sort(np.asarray(_METHODS[name](finite, **options), dtype=float))
    return cuts


def assign(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Regime ids: 0 below the first threshold, 1 between, 2 at or above the second."""
    return np.searchsorted(thresholds, np.asarray(scores, dtype=float), side="right").astype(
        np.int64
    )


@method("thresholds")
def _given(scores: np.ndarray, thresholds: tuple[float, float] | None = None, **_: object):
    if thresholds is None or len(thresholds) != 2:
        raise DataError(f"regime thresholds: expected two numbers, got {thresholds!r}")
    return np.asarray(thresholds)


@method("quantiles")
def _quantiles(scores: np.ndarray, quantiles: tuple[float, float] = (0.6, 0.9), **_: object):
    return np.quantile(scores, quantiles)


@method("kmeans")
def _kmeans(scores: np.ndarray, iterations: int = 100, **_: object) -> np.ndarray:
    x = np.log(scores)
    # Two starts (spread quantiles; evenly over the range) -- ties can merge quantile starts.
    starts = (np.quantile(x, [1 / 6, 1 / 2, 5 / 6]), np.linspace(x.min(), x.max(), 3))
    fits = [_lloyd(x, np.sort(start), iterations) for start in starts]
    centres = min(fits, key=lambda fit: fit[1])[0]
    return np.exp((centres[:-1] + centres[1:]) / 2.0)


def _lloyd(x: np.ndarray, centres: np.ndarray, iterations: int) -> tuple[np.ndarray, float]:
    """1-D k-means from ``centres``: the sorted centres and the within-cluster sum of squares."""
    for _step in range(iterations):
        labels = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
        updated = np.array(
            [x[labels == k].mean() if (labels == k).any() else centres[k] for k in range(3)]
        )
        if np.allclose(updated, centres):
            break
        centres = np.sort(updated)
    labels = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
    return centres, float(((x - centres[labels]) ** 2).sum())
