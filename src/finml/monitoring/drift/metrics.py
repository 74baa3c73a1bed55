"""Distribution-distance primitives on numpy arrays (sorted once, reused by every metric).

Conventions (also in ``docs/monitoring.md``):

* Numeric bins are frozen from the reference: interior edges at its ``k / bins`` quantiles
  (linear interpolation, duplicate edges merged), the outer bins open-ended, bin ``i`` is
  ``[edge[i-1], edge[i])``. Values of the current window outside the reference range fall in
  the outer bins.
* PSI = sum((c - r) * ln(c / r)) over bins, with shares clipped below at ``epsilon``
  (1e-4 by default) so an empty bin contributes a large but finite term. Not renormalised.
* JS is the Jensen-Shannon **distance** (square root of the divergence) with base-2 logs,
  so it lies in [0, 1]; empty bins need no epsilon.
* KS is the two-sample Kolmogorov-Smirnov statistic with scipy's ``auto`` p-value.
* Wasserstein is the exact 1-D W1 between the empirical distributions divided by the
  reference standard deviation (ddof 0), as Evidently's "normed" Wasserstein.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "EXACT_KS_MAX_N",
    "bin_counts",
    "chi_squared",
    "evidently_edges",
    "evidently_shares",
    "js_distance",
    "ks_pvalue",
    "ks_wasserstein",
    "l_infinity",
    "psi",
    "quantile_edges",
    "shares",
    "sorted_finite",
    "tv_distance",
]

EXACT_KS_MAX_N = 10_000  # scipy's ks_2samp(method="auto") is exact up to this size


def sorted_finite(values: np.ndarray) -> np.ndarray:
    """``values`` as a sorted float64 array without NaN (infinities kept)."""
    array = np.asarray(values, dtype=np.float64)
    array = np.sort(array[~np.isnan(array)], kind="quicksort")
    return array


def quantile_edges(reference_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges: the reference's ``k / bins`` quantiles (k = 1..bins-1), unique.

    Equal to ``np.unique(np.quantile(reference, np.arange(1, bins) / bins))`` but reads the
    already sorted array instead of partitioning it again.
    """
    n = reference_sorted.size
    if n == 0:
        return np.empty(0)
    position = np.arange(1, bins) / bins * (n - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = position - low
    edges = reference_sorted[low] + (reference_sorted[high] - reference_sorted[low]) * frac
    return np.unique(edges)


def bin_counts(values_sorted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e0), [e0, e1), ..., [e_last, inf)`` of a sorted array."""
    cuts = np.searchsorted(values_sorted, edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [values_sorted.size]))).astype(np.int64)


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as fractions of their total (all zeros if the total is zero)."""
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts), dtype=np.float64)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = 1e-4) -> float:
    """Population stability index of two share vectors, shares clipped below at ``epsilon``."""
    r = np.maximum(reference, epsilon)
    c = np.maximum(current, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, of two share vectors (in [0, 1])."""
    p, q = np.asarray(reference, float), np.asarray(current, float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    divergence = 0.5 * (_kl2(p, m) + _kl2(q, m))
    return float(math.sqrt(max(divergence, 0.0)))


def _kl2(p: np.ndarray, m: np.ndarray) -> float:
    mask = p > 0  # 0 * log 0 = 0; m > 0 wherever p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def tv_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Total-variation distance: half the L1 distance of the share vectors."""
    return float(0.5 * np.abs(np.asarray(reference) - np.asarray(current)).sum())


def l_infinity(reference: np.ndarray, current: np.ndarray) -> float:
    """Largest absolute difference between the share vectors."""
    diff = np.abs(np.asarray(reference) - np.asarray(current))
    return float(diff.max()) if diff.size else 0.0


def ks_wasserstein(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and raw W1 distance from two sorted arrays in one merge.

    The merge is linear after one ``searchsorted`` of the current values into the reference
    (a current value goes after reference values equal to it); the empirical CDF difference
    is a running count. KS is read at the last copy of tied values (right-continuous CDFs,
    as scipy does); W1 integrates |F_ref - F_cur| between consecutive merged values.
    """
    n1, n2 = reference_sorted.size, current_sorted.size
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan")
    slots = np.searchsorted(reference_sorted, current_sorted, side="right")
    slots += np.arange(n2)
    values = np.empty(n1 + n2, dtype=np.float64)
    from_current = np.zeros(n1 + n2, dtype=bool)
    from_current[slots] = True
    values[slots] = current_sorted
    values[~from_current] = reference_sorted
    seen_current = np.cumsum(from_current)
    seen_reference = np.arange(1, n1 + n2 + 1) - seen_current
    cdf_diff = seen_reference / n1 - seen_current / n2
    last_of_tie = np.append(values[1:] != values[:-1], True)
    ks = float(np.abs(cdf_diff[last_of_tie]).max())
    gaps = np.diff(values)
    finite = np.isfinite(gaps)
    if not finite.all():  # infinities: integrate over the finite part only
        return ks, float(np.abs(cdf_diff[:-1][finite]) @ gaps[finite])
    return ks, float(np.abs(cdf_diff[:-1]) @ gaps)


def ks_pvalue(statistic: float, reference: np.ndarray, current: np.ndarray) -> float:
    """p-value of the two-sided KS test, as ``scipy.stats.ks_2samp(method="auto")``.

    Exact (scipy) while both samples have at most 10,000 values, else Smirnov's asymptotic
    distribution with ``n = round(n1 * n2 / (n1 + n2))``.
    """
    n1, n2 = reference.size, current.size
    if n1 == 0 or n2 == 0 or math.isnan(statistic):
        return float("nan")
    if max(n1, n2) <= EXACT_KS_MAX_N:
        return float(stats.ks_2samp(reference, current, method="auto").pvalue)
    big, small = max(n1, n2), min(n1, n2)
    effective = np.round(big * small / (big + small))
    return float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def chi_squared(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors (categories seen by either).

    Returns (statistic, p-value); NaN when fewer than two categories occur.
    """
    table = np.vstack((reference_counts, current_counts)).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return float("nan"), float("nan")
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def evidently_edges(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Evidently's PSI bin edges: ``np.histogram_bin_edges(ref + cur, "sturges")``."""
    return np.histogram_bin_edges(np.concatenate((reference, current)), bins="sturges")


def evidently_shares(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares binned exactly as Evidently's PSI (histogram bins, its zero filling)."""
    edges = evidently_edges(reference, current)
    ref = np.histogram(reference, edges)[0] / reference.size
    cur = np.histogram(current, edges)[0] / current.size
    return _evidently_fill(ref), _evidently_fill(cur)


def _evidently_fill(values: np.ndarray) -> np.ndarray:
    # Evidently replaces empty bins by min(non-zero share) / 1e6 if that minimum is tiny,
    # else by 1e-4; reproduced so its PSI numbers can be matched exactly.
    nonzero = values[values != 0]
    if nonzero.size == 0:
        return values
    smallest = nonzero.min()
    fill = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(values == 0, fill, values)
