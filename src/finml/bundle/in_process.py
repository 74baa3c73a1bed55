"""Run a task script in this process (the local job runner's ``in_process`` mode).

The script runs as ``__main__`` with ``sys.argv`` set, the task's environment variables
applied for its duration, and its stdout / stderr in the task's log file. Its
``SparkSession`` is this process's (``getOrCreate``), so a sequence of tasks pays for one
JVM, as tasks on a warm Databricks job cluster do.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from finml.vocabulary import RunState

if TYPE_CHECKING:
    from finml.config import ProjectConfig


def task_environment(config: ProjectConfig, extra: dict[str, str]) -> dict[str, str]:
    """The variables a task process gets from the runner (not the whole environment)."""
    env = {"FINML_HOME": str(config.home), "FINML_ENV": config.env, **extra}
    if config.source_file is not None:
        env["FINML_CONFIG"] = str(config.source_file)
    for variable, value in (
        ("FINML_WAREHOUSE", config.warehouse),
        ("FINML_LANDING", config.landing),
    ):
        if value is not None:
            env[variable] = str(value)
    return env


def run_script(
    script: Path, args: list[str], env: dict[str, str], log_path: Path
) -> tuple[int | None, RunState, str | None]:
    """Run ``script args`` here; returns (exit code, state, message) as
    :func:`finml.bundle.submit.wait` does for a process (message None: read the log)."""
    saved_env = {k: os.environ.get(k) for k in env}
    saved_argv = sys.argv
    os.environ.update(env)
    sys.argv = [str(script), *args]
    try:
        with (
            log_path.open("w") as out,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            print("$ (in process) " + " ".join([str(script), *args]), flush=True)
            try:
                runpy.run_path(str(script), run_name="__main__")
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc.code)
            except Exception:  # a bug in the task: its traceback goes to the task's log
                traceback.print_exc(file=out)
                code = 1
    finally:
        sys.argv = saved_argv
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return code, RunState.SUCCESS if code == 0 else RunState.FAILED, None


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
