"""Pure rules of a job run: ``run_if``, ``depends_on.outcome``, condition tasks, ``{{...}}``.

Semantics follow Databricks Jobs. A dependency *counts* as succeeded when it ended SUCCESS
(and, for a condition task dependency with ``outcome``, its result equals the outcome).
EXCLUDED tasks (skipped by a condition branch) are neither successes nor failures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from finml.bundle.models import ConditionTask, Task
from finml.errors import JobError
from finml.vocabulary import RunState

DYNAMIC_REF = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def decide(task: Task, states: Mapping[str, str], outcomes: Mapping[str, str]) -> RunState | None:
    """Whether ``task`` runs given its dependencies' final ``states``.

    ``outcomes`` maps condition task keys to ``"true"``/``"false"``. Returns None to run the
    task, else the state it ends in without running (UPSTREAM_FAILED or EXCLUDED).
    """
    if not task.depends_on:
        return None
    succeeded, failed, excluded = [], [], []
    for dep in task.depends_on:
        state = states[dep.task_key]
        branch_taken = dep.outcome is None or outcomes.get(dep.task_key) == dep.outcome
        if state == RunState.SUCCESS and branch_taken:
            succeeded.append(dep.task_key)
        elif RunState(state).failed:
            failed.append(dep.task_key)
        else:  # skipped, or the condition took the other branch
            excluded.append(dep.task_key)
    rule = task.run_if
    met = {
        "ALL_SUCCESS": not failed and not excluded,
        "AT_LEAST_ONE_SUCCESS": bool(succeeded),
        "NONE_FAILED": not failed and bool(succeeded),
        "ALL_DONE": True,
        "AT_LEAST_ONE_FAILED": bool(failed),
        "ALL_FAILED": len(failed) == len(task.depends_on),
    }[rule]
    if met:
        return None
    # A rule that wanted successes and met failures is an upstream failure; else a skip.
    if failed and rule in ("ALL_SUCCESS", "AT_LEAST_ONE_SUCCESS", "NONE_FAILED"):
        return RunState.UPSTREAM_FAILED
    return RunState.EXCLUDED


def evaluate(condition: ConditionTask) -> bool:
    """The result of a resolved condition; numbers compare as numbers, else as strings.

    Raises:
        JobError: an ordering comparison of values that are not both numbers.
    """
    left, right = _number(condition.left), _number(condition.right)
    numeric = left is not None and right is not None
    a: Any = left if numeric else condition.left
    b: Any = right if numeric else condition.right
    if condition.op == "EQUAL_TO":
        return bool(a == b)
    if condition.op == "NOT_EQUAL":
        return bool(a != b)
    if not numeric:
        raise JobError(
            f"condition_task {condition.op}: expected numbers, got {condition.left!r} and "
            f"{condition.right!r}"
        )
    ordered: dict[str, bool] = {
        "GREATER_THAN": a > b,
        "GREATER_THAN_OR_EQUAL": a >= b,
        "LESS_THAN": a < b,
        "LESS_THAN_OR_EQUAL": a <= b,
    }
    return ordered[condition.op]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def fill(text: str, lookup: Callable[[str], Any], where: str) -> str:
    """Replace ``{{name}}`` references in ``text`` by ``lookup(name)``.

    Raises:
        JobError: ``lookup`` knows no value for a name (message names ``where``).
    """

    def one(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        if value is None:
            raise JobError(f"{where}: expected a value for {{{{{match.group(1)}}}}}, got none")
        return value if isinstance(value, str) else _json(value)

    return DYNAMIC_REF.sub(one, text)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def run_failed(states: Mapping[str, str]) -> bool:
    """A job run fails when any task failed, timed out or could not run for that reason."""
    return any(RunState(state).failed for state in states.values())
