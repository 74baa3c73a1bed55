"""Shared CLI plumbing: the per-invocation state (config, Spark, tables) and output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

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

            self._spark = get_spark(self.config)
        return self._spark

    def tables(self, *, with_spark: bool = False) -> DeltaTables:
        from finml.runtime.delta import DeltaTables

        return DeltaTables.from_config(self.config, self.spark() if with_spark else None)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    sys.exit(code)


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (for scripts)."""
    print(json.dumps(payload, indent=2, default=str))
