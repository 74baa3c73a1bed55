"""``resources_problems``: validators generated from ``databricks-bundles``' typed resources."""

from __future__ import annotations

from dataclasses import is_dataclass
from typing import Any

import pytest
from databricks.bundles.core._generated import _all_resource_types

from finml.bundle.resource_schema import (
    REQUIRED,
    UNKNOWN_FIELD,
    _fields,
    resource_kinds,
    resource_type,
    resources_problems,
)
from finml.settings_base import loc_path

ROOT = ("resources",)


def problems(resources: dict[str, Any], *, partial: bool = False) -> list[tuple[str, str]]:
    """``(key path, message)``, the path written as in YAML."""
    found = resources_problems(resources, ROOT, partial=partial)
    return [(loc_path(path), message) for path, message in found]


def notebook_job() -> dict[str, Any]:
    return {
        "name": "nb",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "../nb.ipynb"}},
            {
                "task_key": "b",
                "depends_on": [{"task_key": "a"}],
                "run_if": "ALL_DONE",
                "notebook_task": {"notebook_path": "../nb.ipynb", "base_parameters": {"x": "1"}},
            },
        ],
    }


def test_every_resource_kind_of_databricks_bundles_is_known() -> None:
    expected = {kind.plural_name: kind.resource_type for kind in _all_resource_types()}
    assert {kind: resource_type(kind) for kind in resource_kinds()} == expected
    assert resource_type("notebooks") is None


def test_a_validator_builds_for_every_type_every_resource_reaches() -> None:
    """No type hint of any resource lacks a validator (raises TypeError at build time)."""
    pending, seen = [resource_type(kind) for kind in resource_kinds()], set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for spec in _fields(model, False).values():
            spec.check(None, ())  # builds nested validators; a dataclass's on first use
        pending += [m for m in _nested_dataclasses(model) if m not in seen]
    assert len(seen) > 400


def _nested_dataclasses(model: Any) -> list[Any]:
    from typing import get_args, get_type_hints

    out, stack = [], list(get_type_hints(model).values())
    while stack:
        hint = stack.pop()
        stack += get_args(hint)
        if is_dataclass(hint) and isinstance(hint, type):
            out.append(hint)
    return out


def test_notebook_tasks_and_unity_catalog_resources_are_accepted() -> None:
    assert (
        problems(
            {
                "jobs": {"nb": notebook_job()},
                "schemas": {"markets": {"name": "markets", "catalog_name": "${var.catalog}"}},
                "volumes": {
                    "landing": {
                        "name": "landing",
                        "catalog_name": "${var.catalog}",
                        "schema_name": "${resources.schemas.markets.name}",
                        "volume_type": "MANAGED",
                    }
                },
                "registered_models": {
                    "risk": {"name": "risk", "catalog_name": "c", "schema_name": "m"}
                },
                "experiments": {"risk": {"name": "/Shared/risk"}},
                "model_serving_endpoints": {
                    "risk": {
                        "name": "risk",
                        "config": {
                            "served_entities": [
                                {
                                    "entity_name": "c.m.risk",
                                    "entity_version": "3",
                                    "workload_size": "Small",
                                    "scale_to_zero_enabled": True,
                                }
                            ]
                        },
                    }
                },
            }
        )
        == []
    )


def test_a_reference_is_accepted_wherever_the_type_says_variable_or() -> None:
    job = notebook_job()
    task = job["tasks"][1]
    task["max_retries"] = "${var.retries}"  # integer
    task["run_if"] = "${var.run_if}"  # enum
    task["notebook_task"] = "${var.notebook}"  # a whole dataclass
    task["depends_on"] = ["${var.dependency}"]  # a list element
    job["schedule"] = {"quartz_cron_expression": "${var.cron}", "timezone_id": "UTC"}
    assert problems({"jobs": {"nb": job}}) == []


def test_scalars_are_normalised_as_the_cli_does() -> None:
    job = notebook_job()
    job["tasks"][1] |= {"max_retries": "3", "retry_on_timeout": "yes", "description": 7}
    assert problems({"jobs": {"nb": job}}) == []


def test_every_problem_is_named_by_key_path() -> None:
    job = notebook_job()
    task = job["tasks"][1]
    task["run_if"] = "SOMETIMES"
    task["max_retries"] = "twice"
    task["notebook_task"]["base_parameter"] = {"x": "1"}  # unknown, deep in a task
    del job["tasks"][0]["notebook_task"]["notebook_path"]
    found = dict(problems({"jobs": {"nb": job}}))
    base = "resources.jobs.nb.tasks"
    assert found.pop(f"{base}[0].notebook_task.notebook_path") == REQUIRED
    assert found.pop(f"{base}[1].notebook_task.base_parameter") == UNKNOWN_FIELD
    assert found.pop(f"{base}[1].max_retries") == (
        "expected an integer or a ${...} reference, got 'twice'"
    )
    run_if = found.pop(f"{base}[1].run_if")
    assert run_if.startswith("expected one of ['ALL_SUCCESS', ")
    assert run_if.endswith("] or a ${...} reference, got 'SOMETIMES'")
    assert found == {}


@pytest.mark.parametrize(
    ("value", "where", "message"),
    [
        ("a", "", "expected a list or a ${...} reference, got 'a'"),
        ({"task_key": "a"}, "", "expected a list or a ${...} reference, got a mapping"),
        ([{"task_key": ["a"]}], "[0].task_key",
         "expected a string or a ${...} reference, got a list"),
        ([1], "[0]", "expected a mapping (TaskDependency) or a ${...} reference, got 1"),
    ],
)  # fmt: skip
def test_a_wrong_shape_says_what_was_expected(value: Any, where: str, message: str) -> None:
    job = notebook_job()
    job["tasks"][1]["depends_on"] = value
    found = problems({"jobs": {"nb": job}})
    assert found == [(f"resources.jobs.nb.tasks[1].depends_on{where}", message)]


def test_an_unknown_resource_kind_is_named() -> None:
    [(key, message)] = problems({"notebooks": {"x": {}}})
    assert key == "resources.notebooks"
    assert message.startswith("expected a resource kind (alerts, apps, ")
    assert message.endswith(", volumes), got 'notebooks'")


def test_a_target_override_may_leave_required_fields_out_but_not_add_unknown_ones() -> None:
    override = {"volumes": {"landing": {"comment": "dev copy"}}}
    assert problems(override, partial=True) == []
    assert problems(override) == [
        ("resources.volumes.landing.catalog_name", REQUIRED),
        ("resources.volumes.landing.name", REQUIRED),
        ("resources.volumes.landing.schema_name", REQUIRED),
    ]
    override["volumes"]["landing"]["bogus"] = 1
    assert problems(override, partial=True) == [("resources.volumes.landing.bogus", UNKNOWN_FIELD)]


def test_empty_sections_and_optional_nulls_are_accepted() -> None:
    job = notebook_job()
    job["tasks"][1] |= {"description": None, "libraries": None}
    assert problems({"jobs": {"nb": job}, "pipelines": None}) == []
    assert problems({"jobs": {"nb": {"tasks": [{"task_key": None}]}}}) == [
        (
            "resources.jobs.nb.tasks[0].task_key",
            "expected a string or a ${...} reference, got None",
        )
    ]
