"""DLT-style data-quality expectations, declared once and enforced in one pass.

An :class:`Expectation` is a name, a SQL boolean condition and an action:

* ``warn`` — keep the row, count the failure;
* ``drop`` — drop the row, count it;
* ``quarantine`` — route the row to the quarantine table with the names of the rules it failed;
* ``fail`` — stop the pipeline (:class:`~finml.errors.ExpectationFailed`).

A NULL condition counts as a failure (as in DLT). Each table's rules are declared once, in
its contract (:mod:`finml.pipelines.contracts`); the local runner enforces them here
(:func:`check`, :func:`observe`), the DLT binding as ``@dlt.expect_all*`` decorators, and
open-source Spark Declarative Pipelines -- which has no expectations -- lazily inside the
table function (:func:`enforce`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Observation
from pyspark.sql import functions as F

from finml.errors import ExpectationFailed

# The rule itself is declared with the table contracts (no Spark needed to read them).
from finml.pipelines.contract import ACTIONS, FAILED_RULES, Action, Expectation

__all__ = ["ACTIONS", "FAILED_RULES", "Action", "Checked", "Expectation", "ObservedSplit"]

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


@dataclass(frozen=True)
class Checked:
    """Rows split by their expectations, and per-rule failure counts."""

    valid: DataFrame
    quarantined: DataFrame
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    rows_dropped: int
    failures: dict[str, int]
    annotated: DataFrame | None
    measures: dict[str, int]

    def release(self) -> None:
        """Free the cached annotated rows once the split frames have been written."""
        if self.annotated is not None:
            self.annotated.unpersist()


def annotate(df: DataFrame, rules: tuple[Expectation, ...]) -> DataFrame:
    """Add ``_failed_rules`` (array of failed rule names, empty when all pass)."""
    flags = [F.when(~rule.passed(), F.lit(rule.name)) for rule in rules]
    # array_except drops the NULLs (rule names are unique); unlike a filter lambda it is
    # compiled, so the whole projection it sits in stays in whole-stage codegen.
    nothing = F.array(F.lit(None)).cast("array<string>")
    failed = F.array_except(F.array(*flags), nothing) if flags else F.array()
    return df.withColumn(FAILED_RULES, failed.cast("array<string>"))


def check(
    df: DataFrame,
    rules: tuple[Expectation, ...],
    table: str,
    measures: dict[str, Column] | None = None,
) -> Checked:
    """Enforce ``rules`` on ``df``.

    Valid rows are those failing no ``drop``/``quarantine``/``fail`` rule (``warn`` failures
    stay valid); quarantined rows keep their columns plus ``_failed_rules``. ``measures``
    (name -> aggregate column) are computed in the same single pass as the rule counts.

    Raises:
        ExpectationFailed: a ``fail`` rule was violated (names the rule, table and count).
    """
    annotated = annotate(df, rules).cache()
    counts = _counts(annotated.agg(*_aggregates(rules, measures or {})).first())
    fatal = {r.name: counts[r.name] for r in rules if r.action == "fail" and counts[r.name]}
    if fatal:
        annotated.unpersist()
        raise ExpectationFailed(
            f"table {table}: expectations with action 'fail' violated: "
            + ", ".join(f"{name} ({n} rows)" for name, n in fatal.items())
        )
    valid, quarantined = _routes(annotated, rules)
    return _checked(valid, quarantined, counts, rules, measures or {}, annotated)


@dataclass(frozen=True)
class ObservedSplit:
    """Rows split by their expectations, counted *while* they are written (no extra pass).

    Write ``valid`` and ``quarantined``, then call :meth:`result`. For tables without
    ``fail`` rules: those must stop the pipeline before anything is written, which needs
    the counts up front (:func:`check`).
    """

    valid: DataFrame
    quarantined: DataFrame
    rules: tuple[Expectation, ...]
    measures: dict[str, Column]
    observations: tuple[Observation, ...]
    annotated: DataFrame

    def result(self, *, written: bool = True) -> Checked:
        """The counts, as :func:`check` reports them. ``written=False`` (not both frames
        were written, e.g. a target already held this batch) counts with a separate
        aggregation instead of waiting for metrics no action will deliver. So does a
        Spark Connect session that got no metrics back for a write (its ``get`` is then
        empty instead of blocking)."""
        observed = [observation.get for observation in self.observations] if written else []
        if observed and all(observed):
            counts: dict[str, int] = {}
            for metrics in observed:
                for name, value in _counts(metrics).items():
                    counts[name] = counts.get(name, 0) + value
        else:
            counts = _counts(self.annotated.agg(*_aggregates(self.rules, self.measures)).first())
        return _checked(self.valid, self.quarantined, counts, self.rules, self.measures, None)


def observe(
    df: DataFrame,
    rules: tuple[Expectation, ...],
    table: str,
    measures: dict[str, Column] | None = None,
) -> ObservedSplit:
    """Split ``df`` by ``rules`` like :func:`check`, with the rule counts and ``measures``
    collected by Spark (``DataFrame.observe``) while the frames are written.

    Each frame is observed after the split, so each row is counted once, by the write
    that keeps it -- an observation before the split would be evaluated over every row by
    both writes. The valid rows are chosen with plain boolean conditions and counted with
    lean aggregates (row count, ``warn`` failures, ``measures``): every other rule passes
    on them by definition, and building the ``_failed_rules`` array is left to the
    quarantined rows. Without ``drop`` rules every row is valid or quarantined, so the two
    observations add up to the whole; with them, the dropped rows are written nowhere, so
    one observation before the split counts everything.

    Raises:
        ValueError: ``rules`` include a ``fail`` rule (use :func:`check`).
    """
    fatal = [r.name for r in rules if r.action == "fail"]
    if fatal:
        raise ValueError(f"table {table}: rules {fatal} have action 'fail'; use check()")
    measures = measures or {}
    aggregates = _aggregates(rules, measures)
    annotated = annotate(df, rules)
    name = f"expectations_{table}_{uuid.uuid4().hex[:8]}"
    if any(r.action == "drop" for r in rules):
        observation = Observation(name)
        valid, quarantined = _routes(annotated.observe(observation, *aggregates), rules)
        return ObservedSplit(valid, quarantined, rules, measures, (observation,), annotated)
    valid_seen, quarantine_seen = Observation(f"{name}_valid"), Observation(f"{name}_quarantine")
    passes = F.lit(True)
    for rule in rules:
        if rule.action != "warn":
            passes = passes & rule.passed()
    lean = [F.count(F.lit(1)).alias("_rows"), F.count(F.lit(1)).alias("_valid")]
    lean += [F.count_if(~r.passed()).alias(r.name) for r in rules if r.action == "warn"]
    lean += [column.alias(key) for key, column in measures.items()]
    valid = df.where(passes).observe(valid_seen, *lean)
    _, quarantined = _routes(annotated, rules)
    quarantined = quarantined.observe(quarantine_seen, *aggregates)
    return ObservedSplit(
        valid, quarantined, rules, measures, (valid_seen, quarantine_seen), annotated
    )


def enforce(
    df: DataFrame, rules: tuple[Expectation, ...], table: str, keys: tuple[str, ...] = ()
) -> DataFrame:
    """The rows of ``df`` that pass every ``drop`` / ``quarantine`` / ``fail`` rule, chosen
    lazily: for engines that cannot count before writing (open-source Spark Declarative
    Pipelines has no expectations, and its table functions may not run actions).

    A row failing a ``fail`` rule makes the query raise when it runs (``raise_error``), so
    the table's update fails before its data is committed; the error names the table, the
    rule and the row's ``keys``. ``fail`` rules are evaluated first, on every row, as DLT
    evaluates them. ``warn`` rules keep rows and are not counted here.
    """
    guard = F.lit(True)
    for rule in rules:
        if rule.action == "fail":
            where = [F.concat(F.lit(f"{k}="), F.col(k).cast("string")) for k in keys]
            message = F.concat(
                F.lit(f"table {table}: expectation {rule.name} with action 'fail' violated by "),
                F.concat_ws(", ", *where) if where else F.lit("a row"),
            )
            guard = guard & F.when(~rule.passed(), F.raise_error(message)).otherwise(F.lit(True))
    passes = F.lit(True)
    for rule in rules:
        if rule.action in ("drop", "quarantine"):
            passes = passes & rule.passed()
    return df.where(guard & passes)


def quarantined(df: DataFrame, rules: tuple[Expectation, ...]) -> DataFrame:
    """The rows of ``df`` failing a ``quarantine`` rule, with ``_failed_rules`` (lazy)."""
    quarantining = _names([r.name for r in rules if r.action == "quarantine"])
    return annotate(df, rules).where(F.arrays_overlap(F.col(FAILED_RULES), quarantining))


def _routes(annotated: DataFrame, rules: tuple[Expectation, ...]) -> tuple[DataFrame, DataFrame]:
    """``(valid, quarantined)``: rows failing no blocking rule (without ``_failed_rules``),
    and rows failing a ``quarantine`` rule (with it)."""
    blocking = _names([r.name for r in rules if r.action != "warn"])
    quarantining = _names([r.name for r in rules if r.action == "quarantine"])
    failed = F.col(FAILED_RULES)
    return (
        annotated.where(~F.arrays_overlap(failed, blocking)).drop(FAILED_RULES),
        annotated.where(F.arrays_overlap(failed, quarantining)),
    )


def _checked(
    valid: DataFrame,
    quarantined: DataFrame,
    counts: dict[str, int],
    rules: tuple[Expectation, ...],
    measures: dict[str, Column],
    annotated: DataFrame | None,
) -> Checked:
    return Checked(
        valid=valid,
        quarantined=quarantined,
        rows_in=counts["_rows"],
        rows_valid=counts["_valid"],
        rows_quarantined=counts["_quarantined"],
        rows_dropped=counts["_rows"] - counts["_valid"] - counts["_quarantined"],
        failures={r.name: counts[r.name] for r in rules},
        annotated=annotated,
        measures={name: counts[name] for name in measures},
    )


def _names(names: list[str]) -> Column:
    return (
        F.array(*[F.lit(n) for n in names]).cast("array<string>")
        if names
        else F.array().cast("array<string>")
    )


def _aggregates(rules: tuple[Expectation, ...], measures: dict[str, Column]) -> list[Column]:
    """Row count, valid and quarantined counts, one failure count per rule, and measures."""
    failed = F.col(FAILED_RULES)
    blocking = _names([r.name for r in rules if r.action != "warn"])
    quarantining = _names([r.name for r in rules if r.action == "quarantine"])
    aggregates = [F.count(F.lit(1)).alias("_rows")]
    aggregates.append(F.sum((~F.arrays_overlap(failed, blocking)).cast("long")).alias("_valid"))
    aggregates.append(
        F.sum(F.arrays_overlap(failed, quarantining).cast("long")).alias("_quarantined")
    )
    aggregates += [
        F.sum(F.array_contains(failed, r.name).cast("long")).alias(r.name) for r in rules
    ]
    aggregates += [column.alias(name) for name, column in measures.items()]
    return aggregates


def _counts(row: Any) -> dict[str, int]:
    values = row if isinstance(row, dict) else row.asDict()
    return {key: int(value or 0) for key, value in values.items()}
