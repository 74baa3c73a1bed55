"""A/B analysis: the inference log joined with labels, per-variant precision and recall, a
two-proportion z-test and a decision.

The Spark part is two pure transforms (:func:`labelled`, :func:`confusion_by_variant`); the
statistics run on the few aggregated numbers in plain Python (:func:`compare`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from finml.errors import SchemaMismatch
from finml.vocabulary import AbDecision

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


# One row per A/B analysis (live: ``finml ab-report``; replay: the promotion A/B of
# finml.models.replay_ab). finml.jobs.serving.AB_TESTS_SCHEMA must equal it.
AB_TESTS_SCHEMA = pa.schema(
    [
        ("test_id", pa.string()),
        ("analyzed_at", pa.timestamp("us", tz="UTC")),
        ("model_name", pa.string()),
        ("inference_log_version", pa.int64()),  # null for a replay A/B (no log read)
        ("labels_table", pa.string()),
        ("champion_versions", pa.string()),
        ("challenger_versions", pa.string()),
        ("challenger_variant", pa.string()),
        ("metric", pa.string()),
        ("alpha", pa.float64()),
        ("champion_n", pa.int64()),
        ("challenger_n", pa.int64()),
        ("champion_precision", pa.float64()),
        ("challenger_precision", pa.float64()),
        ("champion_recall", pa.float64()),
        ("challenger_recall", pa.float64()),
        ("precision_z", pa.float64()),
        ("precision_p_value", pa.float64()),
        ("recall_z", pa.float64()),
        ("recall_p_value", pa.float64()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("champion_confusion", pa.string()),
        ("challenger_confusion", pa.string()),
    ]
)


def labelled(
    labels: DataFrame, join_on: str, label_column: str
) -> Callable[[DataFrame], DataFrame]:
    """A ``log.transform`` closure: one row per (variant, record) with ``prediction`` and
    ``label`` (the latest log row wins when a record was scored more than once).

    ``join_on`` is ``trade_id`` or ``symbol_ts`` (symbol and event time).

    Raises:
        SchemaMismatch: the labels lack the key or label column.
    """
    keys = ["trade_id"] if join_on == "trade_id" else ["symbol", "ts"]
    missing = [c for c in (*keys, label_column) if c not in labels.columns]
    if missing:
        raise SchemaMismatch(f"labels: expected columns {[*keys, label_column]}, missing {missing}")

    def transform(log: DataFrame) -> DataFrame:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        latest = Window.partitionBy("variant", *keys).orderBy(F.col("logged_at").desc())
        rows = (
            log.where(F.col(keys[0]).isNotNull())
            .withColumn("_n", F.row_number().over(latest))
            .where("_n = 1")
            .select("variant", "model_version", "prediction", *keys)
        )
        truth = labels.select(*keys, F.col(label_column).cast("int").alias("label")).dropDuplicates(
            keys
        )
        return rows.join(truth, keys, "inner")

    return transform


def confusion_by_variant(df: DataFrame) -> DataFrame:
    """Per variant: model versions seen, n, tp, fp, fn, tn."""
    from pyspark.sql import functions as F

    pred, label = F.col("prediction") == 1, F.col("label") == 1
    return df.groupBy("variant").agg(
        F.concat_ws(",", F.array_sort(F.collect_set("model_version"))).alias("versions"),
        F.count("*").alias("n"),
        F.sum((pred & label).cast("long")).alias("tp"),
        F.sum((pred & ~label).cast("long")).alias("fp"),
        F.sum((~pred & label).cast("long")).alias("fn"),
        F.sum((~pred & ~label).cast("long")).alias("tn"),
    )


@dataclass(frozen=True)
class Confusion:
    variant: str
    versions: str
    n: int
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    def trials(self, metric: str) -> tuple[int, int]:
        """(successes, trials) of ``metric``: precision over flagged, recall over positives."""
        return (
            (self.tp, self.tp + self.fp) if metric == "precision" else (self.tp, self.tp + self.fn)
        )


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """z statistic (positive when sample 2 is higher) and two-sided p-value; (0, 1) when a
    sample is empty or the pooled rate is 0 or 1."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def f1_difference(
    champion: Confusion, challenger: Confusion, alpha: float, *, draws: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Challenger F1 minus champion F1 at their operating points, and the one-sided upper
    ``1 - alpha`` bound of that difference from a parametric bootstrap of each arm's
    confusion counts (multinomial on its observed tp / fp / fn / tn shares). The challenger is
    significantly worse when the bound is below 0. F1 of a draw that flags nothing and
    misses nothing is 0."""
    rng = np.random.default_rng(seed)

    def f1(arm: Confusion, sample: bool) -> np.ndarray:
        counts = np.array([arm.tp, arm.fp, arm.fn, arm.tn], dtype=float)
        if sample and arm.n:
            counts = rng.multinomial(arm.n, counts / arm.n, size=draws).T.astype(float)
        tp, fp, fn = counts[0], counts[1], counts[2]
        denominator = 2 * tp + fp + fn
        return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)

    observed = float(f1(challenger, False) - f1(champion, False))
    bound = float(np.quantile(f1(challenger, True) - f1(champion, True), 1 - alpha))
    return observed, bound


def confusion_of(variant: str, versions: str, label: Any, prediction: Any) -> Confusion:
    """The :class:`Confusion` of 0/1 ``prediction`` against 0/1 ``label`` (array-likes)."""
    y = np.asarray(label, dtype=np.int64) == 1
    p = np.asarray(prediction, dtype=np.int64) == 1
    return Confusion(
        variant, versions, int(y.size), int((p & y).sum()), int((p & ~y).sum()),
        int((~p & y).sum()), int((~p & ~y).sum()),
    )  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    champion: Confusion
    challenger: Confusion
    metric: str
    alpha: float
    precision_z: float
    precision_p: float
    recall_z: float
    recall_p: float
    decision: AbDecision
    reason: str

    @property
    def challenger_worse(self) -> bool:
        """Whether the challenger is significantly worse (at ``alpha``) on precision or
        recall -- the champion then keeps its place in a promotion A/B."""
        return any(
            p < self.alpha and z < 0
            for z, p in ((self.precision_z, self.precision_p), (self.recall_z, self.recall_p))
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "champion_versions": self.champion.versions,
            "challenger_versions": self.challenger.versions,
            "challenger_variant": self.challenger.variant,
            "metric": self.metric,
            "alpha": self.alpha,
            "champion_n": self.champion.n,
            "challenger_n": self.challenger.n,
            "champion_precision": _finite(self.champion.precision),
            "challenger_precision": _finite(self.challenger.precision),
            "champion_recall": _finite(self.champion.recall),
            "challenger_recall": _finite(self.challenger.recall),
            "precision_z": self.precision_z,
            "precision_p_value": self.precision_p,
            "recall_z": self.recall_z,
            "recall_p_value": self.recall_p,
            "decision": str(self.decision),
            "reason": self.reason,
            "champion_confusion": str(asdict(self.champion)),
            "challenger_confusion": str(asdict(self.challenger)),
        }


def compare(
    champion: Confusion, challenger: Confusion, metric: str, alpha: float, min_samples: int
) -> Comparison:
    """Test both metrics; decide on ``metric``: promote when the challenger is significantly
    better on it and not significantly worse on the other, keep when significantly worse,
    else inconclusive (too few trials, no significant difference, or a trade-off)."""
    pz, pp = two_proportion_z(*champion.trials("precision"), *challenger.trials("precision"))
    rz, rp = two_proportion_z(*champion.trials("recall"), *challenger.trials("recall"))
    (z, p), (oz, op) = ((pz, pp), (rz, rp)) if metric == "precision" else ((rz, rp), (pz, pp))
    trials = min(champion.trials(metric)[1], challenger.trials(metric)[1])
    if trials < min_samples:
        decision, reason = (
            AbDecision.INCONCLUSIVE,
            f"{metric}: expected >= {min_samples} trials per variant, got {trials}",
        )
    elif p < alpha and z > 0 and not (op < alpha and oz < 0):
        decision, reason = (
            AbDecision.PROMOTE_CHALLENGER,
            f"challenger {metric} higher (z={z:.2f}, p={p:.4f})",
        )
    elif p < alpha and z > 0:
        decision, reason = (
            AbDecision.INCONCLUSIVE,
            f"{metric} higher but the other metric lower (p={op:.4f})",
        )
    elif p < alpha:
        decision, reason = (
            AbDecision.KEEP_CHAMPION,
            f"challenger {metric} lower (z={z:.2f}, p={p:.4f})",
        )
    else:
        decision, reason = (
            AbDecision.INCONCLUSIVE,
            f"no significant {metric} difference (p={p:.4f} >= {alpha})",
        )
    return Comparison(champion, challenger, metric, alpha, pz, pp, rz, rp, decision, reason)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
