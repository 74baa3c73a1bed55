"""Parameters of a task script: ``--name value`` pairs, required ones checked up front.

Every script in ``scripts/`` calls :func:`task_context` first, so a missing or misspelt
parameter fails in milliseconds with a message naming it, before Spark starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.errors import JobError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

# Every FinML task receives these (lineage and environment); see resources/*.yml.
COMMON = ("catalog", "schema", "env")
COMMON_OPTIONAL = {"git_sha": ""}


def parse_params(
    argv: list[str], required: tuple[str, ...] = (), optional: dict[str, str] | None = None
) -> dict[str, str]:
    """``["--catalog", "x", "--full-refresh", "1"]`` -> ``{"catalog": "x", "full_refresh": "1"}``.

    Raises:
        JobError: an unknown name, a name without a value, or a required name missing.
    """
    optional = {**COMMON_OPTIONAL, **(optional or {})}
    allowed = set(required) | set(optional)
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        name = token.removeprefix("--").replace("-", "_")
        if not token.startswith("--") or name not in allowed:
            raise JobError(
                f"task parameter {token!r}: expected one of {sorted('--' + a for a in allowed)}"
            )
        if i + 1 >= len(argv):
            raise JobError(f"task parameter {token}: expected a value, got none")
        values[name] = argv[i + 1]
        i += 2
    missing = [name for name in required if not values.get(name)]
    if missing:
        raise JobError(
            f"task parameters: expected {', '.join('--' + m for m in missing)}, got none "
            f"(given: {sorted(values) or 'nothing'})"
        )
    return {**optional, **values}


@dataclass
class TaskContext:
    """What a task script needs: its parameters, config, and lazy Spark/tables."""

    params: dict[str, str]
    config: ProjectConfig
    _spark: SparkSession | None = field(default=None, repr=False)

    def spark(self) -> SparkSession:
        if self._spark is None:
            from finml.runtime.spark import get_spark

            self._spark = get_spark(self.config, app_name="finml-task")
        return self._spark

    def tables(self, *, with_spark: bool = True) -> DeltaTables:
        from finml.runtime.delta import DeltaTables

        return DeltaTables.from_config(self.config, self.spark() if with_spark else None)

    def flag(self, name: str) -> bool:
        value = self.params.get(name, "").strip().lower()
        if value not in ("", "true", "false", "1", "0", "yes", "no"):
            raise JobError(f"task parameter --{name}: expected true or false, got {value!r}")
        return value in ("true", "1", "yes")

    def instant(self, name: str) -> datetime:
        """Parameter ``name`` as a UTC datetime (ISO 8601; a naive time is UTC); now when
        it is empty (a job passes ``{{job.trigger.time.iso_datetime}}``)."""
        value = self.params.get(name, "").strip()
        if not value:
            return datetime.now(UTC)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise JobError(
                f"task parameter --{name}: expected an ISO 8601 time, got {value!r}"
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def number(self, name: str, kind: type = float) -> Any:
        value = self.params.get(name, "")
        try:
            return kind(value)
        except ValueError:
            raise JobError(
                f"task parameter --{name}: expected a {kind.__name__}, got {value!r}"
            ) from None


def task_context(
    argv: list[str], required: tuple[str, ...] = (), optional: dict[str, str] | None = None
) -> TaskContext:
    """Parse ``argv`` (``COMMON`` names always required) and load the project config for
    ``--env`` with ``--catalog``/``--schema`` applied; ``--git-sha`` becomes
    ``$FINML_GIT_SHA`` (the MLflow lineage tag).

    Raises:
        JobError: a parameter is missing or unknown. ConfigError: the config is invalid.
    """
    from finml.config import ProjectConfig

    params = parse_params(argv, (*COMMON, *required), optional)
    if params["git_sha"]:  # the lineage tag finml.registry.git_sha() records on MLflow runs
        os.environ["FINML_GIT_SHA"] = params["git_sha"]
    base = ProjectConfig.load(env=params["env"])
    data = base.model_dump(by_alias=True)
    data.update(catalog=params["catalog"], schema=params["schema"])
    return TaskContext(params, ProjectConfig.model_validate(data))
