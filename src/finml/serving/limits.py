"""How large a feature value may be: the range of the type the model computes in.

A finite JSON number can still be too large for the model: scikit-learn's and XGBoost's trees
read features as float32, so 1e39 becomes inf there and the model raises (a 500, and one such
record failed a whole batch). Each feature therefore gets a *bound*: the largest magnitude
both its signature column type and the serving setting ``feature_dtype`` can hold. The record
model rejects anything beyond it with a 422 naming the field, and the published OpenAPI
document states it as ``minimum``/``maximum``.

Bounds are floats that are exactly representable, so pydantic (which compares the parsed
float) and the numpy fast path (which compares float64) draw the line at the same value.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

FeatureDtype = Literal["float32", "float64"]
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT64_MAX = sys.float_info.max
_DTYPE_MAX: dict[str, float] = {"float32": FLOAT32_MAX, "float64": FLOAT64_MAX}
# MLflow column types -> the largest magnitude they hold, as an exact float
_TYPE_MAX: dict[str, float] = {
    "double": FLOAT64_MAX,
    "float": FLOAT32_MAX,
    "long": float(2**63 - 1024),  # the largest double below 2**63
    "integer": float(2**31 - 1),
}


def feature_bounds(types: Sequence[str], feature_dtype: FeatureDtype) -> tuple[float, ...]:
    """The bound of each feature whose signature column types are ``types`` (MLflow names:
    double, float, long, integer).

    Raises:
        ValueError: a type is not one of those.
    """
    unknown = sorted(set(types) - set(_TYPE_MAX))
    if unknown:
        raise ValueError(f"feature types: expected some of {sorted(_TYPE_MAX)}, got {unknown}")
    cap = _DTYPE_MAX[feature_dtype]
    return tuple(min(_TYPE_MAX[t], cap) for t in types)


def holds(bounds: Mapping[str, float], published: Mapping[str, float]) -> bool:
    """True if a model with feature ``bounds`` can take every value the ``published`` request
    schema accepts for the features it uses."""
    return all(bound >= published.get(name, 0.0) for name, bound in bounds.items())


def is_unbounded(bound: float) -> bool:
    """A bound that only excludes non-finite numbers (no ``minimum``/``maximum`` needed)."""
    return bound >= FLOAT64_MAX
