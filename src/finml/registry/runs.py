"""Side-by-side comparison of MLflow runs: parameters, metrics and tags, with the differences.

``finml runs compare RUN_ID RUN_ID ...`` and the MLOps API read runs from the project's
tracking store and line them up: one row per parameter, metric (the latest value) or
``finml.*`` tag, one value per run (None where a run lacks it), and whether the values
differ. Metric differences are given against the first run (``delta``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from finml.errors import ModelNotFound
from finml.registry.store import client

if TYPE_CHECKING:
    from finml.config import ProjectConfig

Kind = Literal["param", "metric", "tag"]
TAG_PREFIX = "finml."


@dataclass(frozen=True)
class RunHeader:
    run_id: str
    name: str
    experiment_id: str
    status: str
    start_time: int | None


@dataclass(frozen=True)
class Row:
    kind: Kind
    key: str
    values: tuple[Any, ...]

    @property
    def differs(self) -> bool:
        return len({repr(v) for v in self.values}) > 1

    @property
    def deltas(self) -> tuple[float | None, ...]:
        """Each metric value minus the first run's (None where either is missing)."""
        first = self.values[0]
        return tuple(
            v - first if self.kind == "metric" and v is not None and first is not None else None
            for v in self.values
        )


@dataclass
class RunComparison:
    runs: list[RunHeader]
    rows: list[Row] = field(default_factory=list)

    def differing(self) -> list[Row]:
        return [row for row in self.rows if row.differs]

    def as_dict(self, *, only_differences: bool = False) -> dict[str, Any]:
        rows = self.differing() if only_differences else self.rows
        return {
            "runs": [vars(run) for run in self.runs],
            "rows": [
                {
                    "kind": row.kind,
                    "key": row.key,
                    "values": dict(zip((r.run_id for r in self.runs), row.values, strict=True)),
                    "differs": row.differs,
                    **({"delta": list(row.deltas)} if row.kind == "metric" else {}),
                }
                for row in rows
            ],
        }


def compare_runs(config: ProjectConfig, run_ids: list[str]) -> RunComparison:
    """The runs ``run_ids`` (in that order) side by side.

    Raises:
        DataError: fewer than two distinct run ids. ModelNotFound: a run id the tracking
        store does not know (named).
    """
    from mlflow.exceptions import MlflowException

    from finml.errors import DataError

    if len(set(run_ids)) < 2:
        raise DataError(f"runs compare: expected at least two distinct run ids, got {run_ids}")
    mlflow_client = client(config)
    found = []
    for run_id in run_ids:
        try:
            found.append(mlflow_client.get_run(run_id))
        except MlflowException:
            raise ModelNotFound(f"no MLflow run {run_id!r} in the tracking store") from None
    headers = [
        RunHeader(
            run.info.run_id,
            run.info.run_name or "",
            run.info.experiment_id,
            run.info.status,
            run.info.start_time,
        )
        for run in found
    ]
    comparison = RunComparison(headers)
    for kind, values in (
        ("param", [run.data.params for run in found]),
        ("metric", [run.data.metrics for run in found]),
        ("tag", [_finml_tags(run.data.tags) for run in found]),
    ):
        for key in sorted(set().union(*values)):
            comparison.rows.append(Row(kind, key, tuple(v.get(key) for v in values)))  # type: ignore[arg-type]
    return comparison


def _finml_tags(tags: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if key.startswith(TAG_PREFIX)}
