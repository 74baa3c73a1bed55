"""Task graphs: unknown ``depends_on`` keys, cycles, and a deterministic run order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from finml.bundle.models import Task

TASK_VALUE_REF = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9_-]+)\.values\.([A-Za-z0-9_.-]+)\s*\}\}")


class _Edge(Protocol):
    @property
    def task_key(self) -> str: ...


class Node(Protocol):
    """A task as the graph checks see it (a runner :class:`Task` or any job's ``TaskNode``)."""

    @property
    def task_key(self) -> str: ...

    @property
    def depends_on(self) -> Sequence[_Edge]: ...


def dependency_problems(tasks: Iterable[Node]) -> list[tuple[str, str]]:
    """``(key path, message)`` for duplicate task keys, unknown dependencies and cycles."""
    tasks = list(tasks)
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, task in enumerate(tasks):
        if task.task_key in seen:
            problems.append(
                (f"tasks[{i}].task_key", f"expected a unique key, got {task.task_key!r} twice")
            )
        seen.add(task.task_key)
    for i, task in enumerate(tasks):
        for j, dep in enumerate(task.depends_on):
            if dep.task_key not in seen:
                problems.append(
                    (
                        f"tasks[{i}].depends_on[{j}].task_key",
                        f"expected one of {sorted(seen)}, got {dep.task_key!r}",
                    )
                )
    cycle = find_cycle(tasks)
    if cycle:
        index = {t.task_key: i for i, t in enumerate(tasks)}
        problems.append(
            (f"tasks[{index[cycle[0]]}].depends_on", f"expected no cycle, got {' -> '.join(cycle)}")
        )
    return problems


def find_cycle(tasks: Iterable[Node]) -> list[str] | None:
    """One dependency cycle as ``[a, b, ..., a]``, or None (unknown keys are ignored)."""
    graph = {t.task_key: [d.task_key for d in t.depends_on] for t in tasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, []):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


def run_order(tasks: Iterable[Task]) -> list[Task]:
    """Tasks in dependency order (Kahn's algorithm; ties keep the YAML order).

    Callers check :func:`dependency_problems` first; a cycle raises ``ValueError`` here.
    """
    tasks = list(tasks)
    remaining = {t.task_key: {d.task_key for d in t.depends_on} for t in tasks}
    order: list[Task] = []
    while remaining:
        ready = [t for t in tasks if t.task_key in remaining and not remaining[t.task_key]]
        if not ready:
            raise ValueError(
                f"tasks: expected an acyclic graph, got a cycle among {sorted(remaining)}"
            )
        for task in ready:
            order.append(task)
            del remaining[task.task_key]
        for deps in remaining.values():
            deps.difference_update(t.task_key for t in ready)
    return order


def upstream(tasks: Iterable[Task], key: str) -> set[str]:
    """Every task ``key`` depends on, directly or transitively."""
    graph = {t.task_key: [d.task_key for d in t.depends_on] for t in tasks}
    seen: set[str] = set()
    stack = list(graph.get(key, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return seen
