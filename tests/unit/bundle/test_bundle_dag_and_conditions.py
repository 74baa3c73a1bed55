"""Run order, cycles, run_if decisions, condition evaluation and {{...}} filling."""

from __future__ import annotations

import pytest

from finml.bundle.conditions import decide, evaluate, fill, run_failed
from finml.bundle.dag import find_cycle, run_order, upstream
from finml.bundle.models import ConditionTask, Task
from finml.errors import JobError


def task(key: str, *deps: str, run_if: str = "ALL_SUCCESS", outcome: str | None = None) -> Task:
    return Task.model_validate(
        {
            "task_key": key,
            "run_if": run_if,
            "depends_on": [{"task_key": d, "outcome": outcome} for d in deps],
            "spark_python_task": {"python_file": "x.py"},
        }
    )


def test_run_order_respects_dependencies_and_keeps_yaml_order_for_ties() -> None:
    tasks = [task("d", "b", "c"), task("b", "a"), task("c", "a"), task("a")]
    assert [t.task_key for t in run_order(tasks)] == ["a", "b", "c", "d"]
    assert upstream(tasks, "d") == {"a", "b", "c"}


def test_find_cycle_returns_the_cycle_and_run_order_refuses_it() -> None:
    tasks = [task("a", "c"), task("b", "a"), task("c", "b"), task("z")]
    assert find_cycle(tasks) == ["a", "c", "b", "a"]
    with pytest.raises(ValueError, match="cycle"):
        run_order(tasks)
    assert find_cycle([task("a"), task("b", "a")]) is None


S, F, T, U, X = "SUCCESS", "FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "EXCLUDED"


@pytest.mark.parametrize(
    ("run_if", "states", "expected"),
    [
        ("ALL_SUCCESS", [S, S], None),
        ("ALL_SUCCESS", [S, F], U),
        ("ALL_SUCCESS", [S, X], X),
        ("AT_LEAST_ONE_SUCCESS", [S, F], None),
        ("AT_LEAST_ONE_SUCCESS", [F, T], U),
        ("NONE_FAILED", [S, X], None),
        ("NONE_FAILED", [S, U], U),
        ("ALL_DONE", [F, T], None),
        ("AT_LEAST_ONE_FAILED", [S, T], None),
        ("AT_LEAST_ONE_FAILED", [S, S], X),
        ("ALL_FAILED", [F, U], None),
        ("ALL_FAILED", [F, S], X),
    ],
)
def test_run_if(run_if: str, states: list[str], expected: str | None) -> None:
    t = task("t", "a", "b", run_if=run_if)
    assert decide(t, {"a": states[0], "b": states[1]}, {}) == expected


def test_a_condition_branch_not_taken_excludes_the_task() -> None:
    on_true = task("deploy", "gate", outcome="true")
    assert decide(on_true, {"gate": S}, {"gate": "true"}) is None
    assert decide(on_true, {"gate": S}, {"gate": "false"}) == X


@pytest.mark.parametrize(
    ("op", "left", "right", "result"),
    [
        ("EQUAL_TO", "promote", "promote", True),
        ("EQUAL_TO", "1.0", "1", True),  # numbers compare as numbers
        ("NOT_EQUAL", "keep", "promote", True),
        ("GREATER_THAN", "10", "9", True),  # not as strings ("10" < "9")
        ("LESS_THAN_OR_EQUAL", "0.2", "0.1", False),
        ("GREATER_THAN_OR_EQUAL", "3", "3", True),
    ],
)
def test_condition_operators(op: str, left: str, right: str, result: bool) -> None:
    assert evaluate(ConditionTask(op=op, left=left, right=right)) is result


def test_ordering_strings_is_an_error_naming_the_values() -> None:
    with pytest.raises(JobError, match=r"GREATER_THAN: expected numbers, got 'a' and 'b'"):
        evaluate(ConditionTask(op="GREATER_THAN", left="a", right="b"))


def test_fill_replaces_references_and_names_missing_ones() -> None:
    values = {"tasks.gate.values.decision": "promote", "job.run_id": "r1"}
    assert fill("{{ tasks.gate.values.decision }}/{{job.run_id}}", values.get, "w") == "promote/r1"
    assert fill("{{input}}", {"input": [1, 2]}.get, "w") == "[1, 2]"
    with pytest.raises(
        JobError, match=r"tasks\[0\]: expected a value for \{\{tasks.x.values.y\}\}"
    ):
        fill("{{tasks.x.values.y}}", values.get, "tasks[0]")


def test_a_run_fails_on_any_failed_timed_out_or_upstream_failed_task() -> None:
    assert not run_failed({"a": S, "b": X})
    assert run_failed({"a": S, "b": T})
    assert run_failed({"a": U})
