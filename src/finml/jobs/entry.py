"""Run a wheel entry point as a ``spark-submit`` script: ``entry.py <package> <entry_point> args``.

The local job runner uses it for ``python_wheel_task`` (Databricks calls the entry point of
the installed wheel directly). The entry point is looked up in the package's
``console_scripts`` and called with ``sys.argv`` set as Databricks does.

:func:`run_task` is the boundary of every task process (the scripts in ``scripts/`` end with
``sys.exit(run_task(main, sys.argv[1:]))``): a FinML error or a Spark/JVM failure ends the
task with its whole trace in the task log and one line, last, naming the cause.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from finml.errors import FinmlError


def run_task(task: Callable[[list[str]], object], argv: list[str]) -> int:
    """Run ``task(argv)`` and return the process exit code: 0 (or the int it returns); 1 for
    a :class:`FinmlError` or a Spark/JVM failure, after logging the whole trace (event
    ``task_failed``) and printing ``error: <one line>`` as the last line on stderr, where the
    job runner's failure message (the log's tail) finds it. Anything else is a bug and
    propagates with its traceback."""
    from finml.runtime.failures import spark_failure, summarise

    try:
        result = task(argv)
    except FinmlError as exc:
        return _failed(exc, str(exc))
    except Exception as exc:
        failure = spark_failure(exc)
        if failure is None:
            raise
        return _failed(failure, summarise(failure))
    return result if isinstance(result, int) else 0


def _failed(exc: BaseException, summary: str) -> int:
    from finml.log import get_logger
    from finml.runtime.failures import full_trace

    get_logger("jobs.entry").error("task_failed", error=summary, exception=full_trace(exc))
    print(f"error: {summary}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("entry.py: expected <package_name> <entry_point> [parameters...]", file=sys.stderr)
        return 2
    package, name, *parameters = argv
    found = [ep for ep in entry_points(group="console_scripts") if ep.name == name]
    if not found:
        print(
            f"python_wheel_task {package}: expected console_scripts entry point {name!r}, got none",
            file=sys.stderr,
        )
        return 2
    sys.argv = [name, *parameters]
    return run_task(lambda _: found[0].load()(), parameters)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
