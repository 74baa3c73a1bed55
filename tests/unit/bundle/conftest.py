"""A tiny bundle written into a temp folder, edited per test to break one thing at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT_YML = {
    "bundle": {"name": "tiny"},
    "include": ["resources/*.yml"],
    "variables": {
        "catalog": {"default": "c_dev"},
        "schema": {"default": "markets"},
        "pause_status": {"default": "PAUSED"},
        "tag": {"default": "sha-${bundle.git.commit}"},
    },
    "targets": {
        "local": {"variables": {"catalog": "c_local"}},
        "prd": {
            "mode": "production",
            "workspace": {"root_path": "/Workspace/x/${bundle.target}"},
            "variables": {"catalog": "c_prd", "pause_status": "UNPAUSED"},
        },
    },
}


def job_yml() -> dict:
    params = ["--catalog", "${var.catalog}", "--schema", "${var.schema}"]
    return {
        "resources": {
            "jobs": {
                "tiny_job": {
                    "name": "tiny-${bundle.target}",
                    "schedule": {
                        "quartz_cron_expression": "0 0/30 * * * ?",
                        "timezone_id": "UTC",  # required by the Databricks schema
                        "pause_status": "${var.pause_status}",
                    },
                    "tasks": [
                        {
                            "task_key": "first",
                            "spark_python_task": {
                                "python_file": "../scripts/task.py",
                                "parameters": params,
                            },
                        },
                        {
                            "task_key": "second",
                            "depends_on": [{"task_key": "first"}],
                            "max_retries": 2,
                            "spark_python_task": {"python_file": "../scripts/task.py"},
                        },
                        {
                            "task_key": "gate",
                            "depends_on": [{"task_key": "second"}],
                            "condition_task": {
                                "op": "EQUAL_TO",
                                "left": "{{tasks.first.values.decision}}",
                                "right": "go",
                            },
                        },
                    ],
                }
            }
        }
    }


BundleFactory = Callable[..., Path]


@pytest.fixture
def make_bundle(tmp_path: Path) -> BundleFactory:
    """``make_bundle(edit)`` writes the tiny bundle, after ``edit(root_yml, job_yml)``."""

    def make(edit: Callable[[dict, dict], None] | None = None) -> Path:
        root, job = yaml.safe_load(yaml.safe_dump(ROOT_YML)), job_yml()
        if edit:
            edit(root, job)
        (tmp_path / "resources").mkdir(exist_ok=True)
        (tmp_path / "scripts").mkdir(exist_ok=True)
        (tmp_path / "scripts" / "task.py").write_text("print('ok')\n")
        (tmp_path / "databricks.yml").write_text(yaml.safe_dump(root, sort_keys=False))
        (tmp_path / "resources" / "tiny.yml").write_text(yaml.safe_dump(job, sort_keys=False))
        return tmp_path

    return make
