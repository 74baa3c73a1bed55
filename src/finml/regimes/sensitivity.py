"""How much the threshold regimes move when their choices move (pure numpy / pandas).

A small one-at-a-time grid around the configured point: the threshold method (k-means,
quantiles 0.6/0.9 and 0.5/0.8), the score window (daily bars only: intraday bars score each
day from its own minutes, the window is unused) and the sample size (the latest half and
three quarters of the trade dates: a shorter history ending today). Each point re-fits the
thresholds, labels its days and counts its transition matrix (all its days, the configured
smoothing); it is compared with the **full-data** point (the configured choices on every
day): the matrix's largest absolute and Frobenius distance, and **label stability**, the
share of the point's days whose label equals the full-data label. The full-data point is in
the grid, at distance 0 and stability 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finml.regimes.analytics import stationary
from finml.regimes.discretise import assign, fit_thresholds
from finml.regimes.markov import STATES, count_transitions, smoothed
from finml.regimes.score import daily_risk
from finml.regimes.settings import RegimeSettings

KEYS = ["symbol", "trade_date"]
QUANTILES = ((0.6, 0.9), (0.5, 0.8))
WINDOWS = (1, 10, 20)
FRACTIONS = (0.5, 0.75)
FULL = "full"


@dataclass(frozen=True)
class GridPoint:
    """One set of choices; ``fraction`` of the latest trade dates is used."""

    name: str
    method: str
    quantiles: tuple[float, float]
    thresholds: tuple[float, float] | None
    window: int
    fraction: float

    def params(self) -> dict[str, object]:
        return {"method": self.method, "quantiles": list(self.quantiles),
                "thresholds": self.thresholds, "window": self.window,
                "sample_fraction": self.fraction}  # fmt: skip


@dataclass(frozen=True)
class PointResult:
    point: GridPoint
    thresholds: np.ndarray
    matrix: np.ndarray
    days: int
    max_abs_distance: float
    frobenius_distance: float
    label_stability: float
    shares: np.ndarray

    def metrics(self) -> dict[str, float]:
        out = {"max_abs_distance": self.max_abs_distance, "days": float(self.days),
               "frobenius_distance": self.frobenius_distance,
               "label_stability": self.label_stability}  # fmt: skip
        names = [s.lower() for s in STATES]
        pi = stationary(self.matrix)
        for i, name in enumerate(names):
            out[f"share_{name}"] = float(self.shares[i])
            out[f"stationary_{name}"] = float(pi[i])
            for j, to in enumerate(names):
                out[f"p_{name}_{to}"] = float(self.matrix[i, j])
        out.update({f"threshold_{i}": float(t) for i, t in enumerate(self.thresholds)})
        return out


def grid(settings: RegimeSettings, *, daily_bars: bool) -> list[GridPoint]:
    """The full-data point first, then one change at a time (duplicates of it dropped)."""
    s = settings
    full = GridPoint(FULL, s.method, s.quantiles, s.thresholds, s.daily_window, 1.0)
    points = [full]
    for method, q in (("kmeans", s.quantiles), *(("quantiles", q) for q in QUANTILES)):
        name = method if method == "kmeans" else f"quantiles_{q[0]}_{q[1]}"
        points.append(GridPoint(name, method, q, None, s.daily_window, 1.0))
    if daily_bars:
        points += [GridPoint(f"window_{w}", s.method, s.quantiles, s.thresholds, w, 1.0)
                   for w in WINDOWS]  # fmt: skip
    points += [GridPoint(f"sample_{f}", s.method, s.quantiles, s.thresholds, s.daily_window, f)
               for f in FRACTIONS]  # fmt: skip
    same = {(full.method, full.quantiles if full.method == "quantiles" else None, full.window,
             full.fraction)}  # fmt: skip
    kept = [full]
    for p in points[1:]:
        key = (p.method, p.quantiles if p.method == "quantiles" else None, p.window, p.fraction)
        if key not in same:
            same.add(key)
            kept.append(p)
    return kept


def run_grid(
    bars: pd.DataFrame, days: pd.DataFrame, settings: RegimeSettings, points: list[GridPoint]
) -> list[PointResult]:
    """Every point of ``points`` (the first must be the full-data point) against the first.

    ``days`` are :func:`~finml.regimes.score.daily_risk`'s rows of ``bars`` at the configured
    window, sorted by symbol then date.

    Raises:
        DataError: a point's scores cannot be cut (e.g. no finite positive score).
    """
    reference = _labelled(bars, days, settings, points[0])
    ref_matrix, ref_labels = reference[1], reference[0][[*KEYS, "regime_id"]]
    results = []
    for point in points:
        labelled, matrix, thresholds = _labelled(bars, days, settings, point)
        joined = labelled.merge(ref_labels, on=KEYS, suffixes=("", "_full"))
        diff = matrix - ref_matrix
        shares = np.bincount(labelled["regime_id"], minlength=len(STATES)) / len(labelled)
        results.append(PointResult(
            point, thresholds, matrix, len(labelled), float(np.abs(diff).max()),
            float(np.sqrt((diff**2).sum())),
            float((joined["regime_id"] == joined["regime_id_full"]).mean()), shares,
        ))  # fmt: skip
    return results


def _labelled(
    bars: pd.DataFrame, days: pd.DataFrame, settings: RegimeSettings, point: GridPoint
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The point's days with ``regime_id``, its smoothed matrix and thresholds."""
    frame = days if point.window == settings.daily_window else daily_risk(bars, point.window)
    if point.fraction < 1.0:
        dates = np.sort(pd.unique(frame["trade_date"]))
        first = dates[len(dates) - max(2, round(point.fraction * len(dates)))]
        frame = frame[frame["trade_date"] >= first]
    frame = frame[[*KEYS, "risk_score"]].reset_index(drop=True)
    scores = frame["risk_score"].to_numpy()
    cuts = fit_thresholds(scores, point.method, quantiles=point.quantiles,
                          thresholds=point.thresholds)  # fmt: skip
    frame["regime_id"] = assign(scores, cuts)
    starts = (frame["symbol"] != frame["symbol"].shift(1)).to_numpy()
    counts = count_transitions(frame["regime_id"].to_numpy(), len(STATES), starts)
    return frame, smoothed(counts, settings.smoothing), cuts
