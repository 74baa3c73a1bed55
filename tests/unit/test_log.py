"""The structlog setup: lines go to ``sys.stderr`` as it is when written (an in-process task
redirects it into its log file), and loggers still pickle (Spark Connect pickles a
``foreachBatch`` function with the loggers it uses)."""

from __future__ import annotations

import contextlib
import io

import cloudpickle

from finml.log import configure, get_logger


def test_lines_follow_a_redirected_stderr_and_loggers_pickle() -> None:
    configure(fmt="json")
    log = get_logger("tests.log")
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        log.error("into_the_task_log", n=1)
    assert "into_the_task_log" in captured.getvalue()

    def batch_function() -> None:
        log.error("in_a_worker")

    restored = cloudpickle.loads(cloudpickle.dumps(batch_function))
    again = io.StringIO()
    with contextlib.redirect_stderr(again):
        restored()
    assert "in_a_worker" in again.getvalue()
