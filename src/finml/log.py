"""Structured logging: key-value events via structlog, JSON when not on a terminal.

``FINML_LOG_FORMAT=json|console`` forces a renderer; ``FINML_LOG_LEVEL`` sets the level.
Logs go to stderr so command output on stdout stays machine-readable.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

_configured = False


class _StderrLogger(structlog.PrintLogger):
    """A ``PrintLogger`` writing to ``sys.stderr`` as it is at each call, so a redirect (a
    task run in process, whose log is its file) catches the log lines too. It pickles as a
    stderr ``PrintLogger`` does (a ``foreachBatch`` function over Spark Connect is pickled
    with the loggers it uses)."""

    def __init__(self, *_: object) -> None:
        super().__init__(file=sys.__stderr__)

    def __getstate__(self) -> str:
        return "stderr"

    def __setstate__(self, state: str) -> None:
        self.__init__()  # type: ignore[misc]

    def msg(self, message: str) -> None:
        stream = sys.stderr
        with self._lock:
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure(level: str | None = None, fmt: str | None = None) -> None:
    """Configure structlog once per process (later calls are no-ops)."""
    global _configured
    if _configured:
        return
    level_name = (level or os.environ.get("FINML_LOG_LEVEL", "INFO")).upper()
    fmt = (
        fmt or os.environ.get("FINML_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    )
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=True,
    )
    _quiet_third_parties()
    _configured = True


# Chatty libraries: their INFO lines and progress bars drown ours on the console.
_QUIET = {
    "mlflow": logging.WARNING,
    "mlflow.pyfunc": logging.ERROR,
    "hmmlearn": logging.ERROR,
    "py4j": logging.ERROR,
    "alembic": logging.WARNING,
}


def _quiet_third_parties() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger bound to ``component=name``."""
    configure()
    return structlog.get_logger().bind(component=name)  # type: ignore[no-any-return]
