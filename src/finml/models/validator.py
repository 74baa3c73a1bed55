"""Pre-deployment checks on a *registered* model (loaded back from MLflow, as serving will):

* ``signature`` — inputs are exactly the feature table's feature columns, as doubles;
* ``golden_rows`` — no NaN/inf, scores in [0, 1], predictions 0/1 on known-good rows;
* ``metric_floors`` — holdout metrics at or above the configured floors;
* ``latency`` — one row and a 10k-row batch within their budgets;
* ``calibration`` — expected calibration error at most ``max_ece``.

A failure names the check and the numbers (:meth:`ValidationReport.raise_for_failures`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import PromotionRejected
from finml.models.metrics import MetricSettings, evaluate, expected_calibration_error

if TYPE_CHECKING:
    from finml.models.data import Split
    from finml.models.settings import ValidationSettings


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class ValidationReport:
    model_uri: str
    checks: list[Check]
    metrics: dict[str, float] = field(default_factory=dict)
    scores: np.ndarray | None = None  # holdout scores of the loaded model (reused by the gate)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    def raise_for_failures(self) -> None:
        """Raises PromotionRejected listing every failed check with its numbers."""
        if not self.passed:
            raise PromotionRejected(
                f"model {self.model_uri} failed validation: " + "; ".join(self.failures)
            )


class ModelValidator:
    """Runs every check against a loaded pyfunc and the holdout split."""

    def __init__(self, settings: ValidationSettings, metrics: MetricSettings | None = None):
        self.settings = settings
        self.metric_settings = metrics or MetricSettings()

    def validate(self, model_uri: str, holdout: Split, model: Any = None) -> ValidationReport:
        """Load ``model_uri`` (unless ``model`` is given) and check it on ``holdout``."""
        import mlflow

        model = model or mlflow.pyfunc.load_model(model_uri)
        inputs = holdout.frame[list(holdout.features)].astype(np.float64)
        checks = [self.signature(model, holdout.features)]
        if not checks[0].passed:  # a model with the wrong inputs cannot be scored
            return ValidationReport(model_uri, checks)
        scored = model.predict(inputs)
        checks.append(self.golden_rows(model, inputs.head(self.settings.golden_rows)))
        metrics = evaluate(holdout.y, scored["score"].to_numpy(), 0.5, self.metric_settings)
        metrics["f1"] = _f1(holdout.y, scored["prediction"].to_numpy())
        checks.append(self.floors(metrics))
        checks.append(self.latency(model, inputs))
        checks.append(self.calibration(holdout.y, scored["score"].to_numpy()))
        return ValidationReport(model_uri, checks, metrics, scored["score"].to_numpy())

    def signature(self, model: Any, features: tuple[str, ...]) -> Check:
        schema = model.metadata.get_input_schema()
        if schema is None:
            return Check("signature", False, "expected a model signature, got none")
        found = {c.name: str(c.type) for c in schema.inputs}
        wrong = {n: t for n, t in found.items() if "double" not in t.lower()}
        if set(found) != set(features) or wrong:
            return Check(
                "signature",
                False,
                f"expected double inputs {sorted(features)}, got {found} "
                f"(missing {sorted(set(features) - set(found))}, "
                f"extra {sorted(set(found) - set(features))})",
            )
        return Check("signature", True, f"{len(found)} double inputs match the feature table")

    def golden_rows(self, model: Any, golden: pd.DataFrame) -> Check:
        out = model.predict(golden)
        scores, predictions = out["score"].to_numpy(float), out["prediction"].to_numpy()
        bad = int((~np.isfinite(scores)).sum())
        outside = int(((scores < 0) | (scores > 1)).sum())
        not_binary = int((~np.isin(predictions, (0, 1))).sum())
        ok = bad == 0 and outside == 0 and not_binary == 0 and len(out) == len(golden)
        return Check(
            "golden_rows",
            ok,
            f"{len(golden)} rows: expected 0 non-finite / out-of-[0,1] / non-0-1 outputs, got "
            f"{bad} / {outside} / {not_binary}",
        )

    def floors(self, metrics: dict[str, float]) -> Check:
        misses = {
            k: (round(metrics.get(k, float("nan")), 4), floor)
            for k, floor in self.settings.floors.items()
            if not metrics.get(k, float("nan")) >= floor  # NaN fails too
        }
        shown = ", ".join(f"{k}={metrics.get(k, float('nan')):.4f}" for k in self.settings.floors)
        if misses:
            detail = "; ".join(f"{k}: expected >= {f}, got {v}" for k, (v, f) in misses.items())
            return Check("metric_floors", False, detail)
        return Check("metric_floors", True, shown)

    def latency(self, model: Any, inputs: pd.DataFrame) -> Check:
        one = inputs.head(1)
        model.predict(one)  # warm-up
        singles = []
        for _ in range(20):
            started = time.perf_counter()
            model.predict(one)
            singles.append((time.perf_counter() - started) * 1000)
        batch = inputs.sample(n=10_000, replace=len(inputs) < 10_000, random_state=0)
        started = time.perf_counter()
        model.predict(batch)
        batch_ms = (time.perf_counter() - started) * 1000
        one_ms = statistics.median(singles)
        ok = one_ms <= self.settings.latency_one_row_ms and (
            batch_ms <= self.settings.latency_batch_10k_ms
        )
        return Check(
            "latency",
            ok,
            f"one row p50 {one_ms:.1f} ms (budget {self.settings.latency_one_row_ms} ms), "
            f"10k rows {batch_ms:.0f} ms (budget {self.settings.latency_batch_10k_ms} ms)",
        )

    def calibration(self, y: np.ndarray, scores: np.ndarray) -> Check:
        ece = expected_calibration_error(y, scores)
        return Check(
            "calibration",
            ece <= self.settings.max_ece,
            f"expected calibration error <= {self.settings.max_ece}, got {ece:.4f} "
            f"(mean score {scores.mean():.4f}, positive rate {y.mean():.4f})",
        )


def _f1(y: np.ndarray, predictions: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, predictions, zero_division=0))
