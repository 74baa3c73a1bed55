"""Shared CLI plumbing: the per-invocation state (config, Spark, tables), output, and the
one-line report of a failure."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

# Off a terminal (logs, CI, pipes) rich would wrap at 80 columns and truncate the tables.
_WIDTH = None if sys.stdout.isatty() else 180
console = Console(stderr=False, highlight=False, width=_WIDTH)
err_console = Console(stderr=True, highlight=False)


@dataclass
class State:
    """What a command needs, created lazily so ``--help`` and listings start no JVM."""

    config_path: Path | None = None
    env: str | None = None
    verbose: bool = False
    _config: ProjectConfig | None = field(default=None, repr=False)
    _spark: SparkSession | None = field(default=None, repr=False)

    @property
    def config(self) -> ProjectConfig:
        if self._config is None:
            from finml.config import ProjectConfig

            self._config = ProjectConfig.load(self.config_path, self.env)
        return self._config

    def spark(self) -> SparkSession:
        if self._spark is None:
            from finml.runtime.spark import get_spark

            # Spark's console log would bury the one-line error under executor stack traces;
            # the failure is reported by finml.cli.main (the whole trace with --verbose).
            level = "WARN" if self.verbose else "OFF"
            self._spark = get_spark(self.config, log_level=level)
        return self._spark

    def tables(self, *, with_spark: bool = False) -> DeltaTables:
        """The environment's tables; Spark-free (delta-rs on paths) unless ``with_spark``.

        Raises:
            ConfigError: the environment keeps its tables in Unity Catalog
                (``workspace: databricks``) and this process has no way to reach them.
        """
        from finml.runtime.delta import DeltaTables

        if self.config.workspace == "databricks":  # catalog tables have no local path
            _require_workspace(self.config)
            with_spark = True
        return DeltaTables.from_config(self.config, self.spark() if with_spark else None)

    def require_tables(self, *names: str) -> None:
        """Raise :class:`~finml.errors.TableNotFound` for the first of ``names`` missing,
        before a command starts Spark (catalog tables are checked by the Spark-backed
        reader itself)."""
        if self.config.workspace == "databricks":
            return
        tables = self.tables()
        for name in names:
            tables.require(name)


def _require_workspace(config: ProjectConfig) -> None:
    from finml.errors import ConfigError
    from finml.runtime.connect import remote_url
    from finml.runtime.spark import on_databricks

    if not on_databricks() and remote_url(config) is None:
        raise ConfigError(
            f"environment {config.env}: its tables are Unity Catalog tables (workspace: "
            "databricks); expected a Databricks runtime or a Spark Connect session "
            "(spark.remote or $SPARK_REMOTE), got neither"
        )


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: <message>`` on stderr (not wrapped, not read as markup); exit ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    sys.exit(code)


def fail_on_spark(exc: BaseException, *, verbose: bool) -> NoReturn:
    """Report Spark/JVM failure ``exc`` as one line naming the root cause and exit 1.

    The whole trace (Python and Java) goes to the structured log at debug level
    (``FINML_LOG_LEVEL=debug``) and, with ``--verbose``, to stderr above the line.
    """
    from finml.log import get_logger
    from finml.runtime.failures import full_trace, summarise

    summary = summarise(exc)
    trace = full_trace(exc)
    get_logger("cli").debug("spark_failure", error=summary, exception=trace)
    if verbose:
        print(trace, file=sys.stderr)
        fail(summary)
    fail(f"{summary} (run with --verbose for the full trace)")


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (for scripts)."""
    print(json.dumps(payload, indent=2, default=str))
