"""``schema_problems``: FinML's models of the top level and targets plus the generated
resource validators, each problem as key path + text."""

from __future__ import annotations

from typing import Any

import pytest

from finml.bundle.resource_schema import REQUIRED, UNKNOWN_FIELD
from finml.bundle.schema import UNKNOWN_KEY, schema_problems


def every_resource_type() -> dict[str, Any]:
    """Resources the old hand-written models called "unknown field"."""
    return {
        "bundle": {"name": "b", "git": {"branch": "main"}},
        "include": ["resources/*.yml"],
        "variables": {"catalog": {"default": "c"}, "retries": {"default": 2}},
        "workspace": {"host": "https://example.cloud.databricks.com"},
        "sync": {"exclude": ["data/"]},
        "permissions": [{"level": "CAN_VIEW", "group_name": "users"}],
        "resources": {
            "jobs": {
                "nb": {
                    "name": "nb",
                    "tasks": [
                        {"task_key": "a", "notebook_task": {"notebook_path": "../nb.ipynb"}},
                        {
                            "task_key": "b",
                            "depends_on": [{"task_key": "a"}],
                            "max_retries": "${var.retries}",  # an int field, interpolated
                            "notebook_task": {"notebook_path": "../nb.ipynb"},
                        },
                    ],
                }
            },
            "schemas": {"markets": {"name": "markets", "catalog_name": "${var.catalog}"}},
            "volumes": {
                "landing": {
                    "name": "landing",
                    "catalog_name": "${var.catalog}",
                    "schema_name": "${resources.schemas.markets.name}",
                }
            },
            "registered_models": {
                "risk": {"name": "risk", "catalog_name": "${var.catalog}", "schema_name": "m"}
            },
            "experiments": {"risk": {"name": "/Shared/risk"}},
        },
        "targets": {
            "dev": {
                "mode": "development",
                "default": True,
                "presets": {"name_prefix": "dev_"},
                "resources": {"volumes": {"landing": {"comment": "an override: partial"}}},
            }
        },
    }


def test_every_resource_type_and_notebook_task_are_accepted() -> None:
    assert schema_problems(every_resource_type(), root=True) == []


@pytest.mark.parametrize(
    ("kind", "key"),
    [("schemas", "markets"), ("volumes", "landing"), ("registered_models", "risk"),
     ("experiments", "risk")],
)  # fmt: skip
def test_an_unknown_key_under_any_resource_type_is_named_by_key_path(kind: str, key: str) -> None:
    document = every_resource_type()
    document["resources"][kind][key]["bogus"] = 1
    assert schema_problems(document) == [(f"resources.{kind}.{key}.bogus", UNKNOWN_FIELD)]


def test_an_unknown_top_level_target_or_nested_key_is_named() -> None:
    document = every_resource_type()
    document["bogus_key"] = 1
    document["targets"]["dev"]["modee"] = "development"
    document["workspace"]["hots"] = "x"
    document["targets"]["dev"]["resources"]["volumes"]["landing"]["bogus"] = 1
    assert sorted(schema_problems(document)) == [
        ("bogus_key", UNKNOWN_KEY),
        ("targets.dev.modee", UNKNOWN_KEY),
        ("targets.dev.resources.volumes.landing.bogus", UNKNOWN_FIELD),
        ("workspace.hots", UNKNOWN_KEY),
    ]


def test_a_wrong_value_at_the_top_level_says_what_was_expected() -> None:
    document = every_resource_type()
    document["targets"]["dev"]["mode"] = "staging"
    document["include"] = "resources/*.yml"
    assert schema_problems(document) == [
        ("include", "expected a valid list, got 'resources/*.yml'"),
        ("targets.dev.mode", "expected 'development' or 'production', got 'staging'"),
    ]


def test_databricks_yml_must_name_the_bundle_an_included_file_need_not() -> None:
    document = every_resource_type()
    del document["bundle"]["name"]
    assert schema_problems(document) == []
    assert schema_problems(document, root=True) == [("bundle.name", REQUIRED)]


def test_a_missing_required_field_is_named() -> None:
    document = every_resource_type()
    del document["resources"]["volumes"]["landing"]["schema_name"]
    del document["resources"]["jobs"]["nb"]["tasks"][0]["notebook_task"]["notebook_path"]
    assert sorted(schema_problems(document)) == [
        ("resources.jobs.nb.tasks[0].notebook_task.notebook_path", REQUIRED),
        ("resources.volumes.landing.schema_name", REQUIRED),
    ]
