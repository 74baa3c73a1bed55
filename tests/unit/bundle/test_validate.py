"""``validate_bundle``: the shipped bundle is valid; each kind of mistake is named by file+key."""

from __future__ import annotations

from pathlib import Path

from finml.bundle import validate_bundle
from finml.bundle.resource_schema import REQUIRED, UNKNOWN_FIELD

REPO = Path(__file__).resolve().parents[3]


def messages(root: Path) -> list[str]:
    return [str(p) for p in validate_bundle(root)[1]]


def test_the_shipped_bundle_is_valid_and_has_every_workflow() -> None:
    bundle, problems = validate_bundle(REPO)
    assert problems == []
    assert {
        "ingestion_workflow",
        "retraining_workflow",
        "drift_monitoring_workflow",
        "batch_inference_job",
        "dashboard_export_job",
        "rollback_job",
    } <= set(bundle.jobs)
    assert "medallion_pipeline" in bundle.pipelines


def test_the_tiny_bundle_is_valid(make_bundle) -> None:
    assert messages(make_bundle()) == []


def test_an_unknown_field_is_rejected_naming_file_and_key(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["jobs"]["tiny_job"]["tasks"][1]["max_retry"] = 3

    found = messages(make_bundle(edit))
    assert found == [
        f"resources/tiny.yml: resources.jobs.tiny_job.tasks[1].max_retry: {UNKNOWN_FIELD}"
    ]


def test_an_unknown_field_in_databricks_yml_is_rejected(make_bundle) -> None:
    found = messages(make_bundle(lambda root, job: root["targets"]["prd"].update(modee="x")))
    assert len(found) == 1
    assert found[0].startswith("databricks.yml: targets.prd.modee: unknown field")


def test_a_missing_script_is_rejected_naming_file_key_and_path(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        task = job["resources"]["jobs"]["tiny_job"]["tasks"][0]
        task["spark_python_task"]["python_file"] = "../scripts/nope.py"

    root = make_bundle(edit)
    found = messages(root)
    assert found == [
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[0].spark_python_task.python_file: "
        f"expected an existing script, got {root / 'scripts' / 'nope.py'} (missing)"
    ]


def test_a_dependency_cycle_is_rejected_with_the_cycle_spelt_out(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["jobs"]["tiny_job"]["tasks"][0]["depends_on"] = [{"task_key": "gate"}]

    found = messages(make_bundle(edit))
    assert found == [
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[0].depends_on: expected no cycle, "
        "got first -> gate -> second -> first"
    ]


def test_unknown_dependency_variable_and_task_value_are_each_named(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        tasks = job["resources"]["jobs"]["tiny_job"]["tasks"]
        tasks[1]["depends_on"] = [{"task_key": "frist"}]
        tasks[0]["spark_python_task"]["parameters"].append("${var.nope}")
        tasks[2]["condition_task"]["left"] = "{{tasks.elsewhere.values.decision}}"

    found = messages(make_bundle(edit))
    assert (
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[0].spark_python_task.parameters[4]: "
        "expected a defined reference, got ${var.nope}"
    ) in found
    assert (
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[1].depends_on[0].task_key: "
        "expected one of ['first', 'gate', 'second'], got 'frist'"
    ) in found
    assert any(
        m.startswith("resources/tiny.yml: resources.jobs.tiny_job.tasks[2].condition_task:")
        and "'elsewhere'" in m
        for m in found
    )


def test_a_task_needs_exactly_one_kind_and_a_valid_run_if(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        tasks = job["resources"]["jobs"]["tiny_job"]["tasks"]
        del tasks[0]["spark_python_task"]
        tasks[1]["run_if"] = "SOMETIMES"

    found = messages(make_bundle(edit))
    assert any(
        m.startswith(
            "resources/tiny.yml: resources.jobs.tiny_job.tasks[0]: expected exactly one of"
        )
        for m in found
    )
    assert any(
        m.startswith("resources/tiny.yml: resources.jobs.tiny_job.tasks[1].run_if:") for m in found
    )


def test_a_target_setting_an_undeclared_variable_is_named(make_bundle) -> None:
    found = messages(make_bundle(lambda root, job: root["targets"]["prd"]["variables"].update(x=1)))
    assert found == [
        "databricks.yml: targets.prd: databricks.yml: targets.prd.variables.x: expected a "
        "variable declared under 'variables', got an undeclared one"
    ]


def test_a_job_key_defined_twice_names_both_files(make_bundle) -> None:
    root = make_bundle()
    (root / "resources" / "again.yml").write_text((root / "resources" / "tiny.yml").read_text())
    found = messages(root)
    assert found == [
        "resources/tiny.yml: resources.jobs.tiny_job: expected a unique key, got one already "
        "defined in resources/again.yml"
    ]


def test_a_bad_pause_status_after_resolution_is_named(make_bundle) -> None:
    root = make_bundle(lambda r, job: r["variables"]["pause_status"].update(default="OFF"))
    assert messages(root) == [
        "resources/tiny.yml: resources.jobs.tiny_job.schedule.pause_status: expected PAUSED or "
        "UNPAUSED, got 'OFF'"
    ]


def test_a_pipeline_with_a_missing_source_file_is_named(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["pipelines"] = {
            "p": {
                "name": "p",
                "catalog": "${var.catalog}",
                "libraries": [{"file": {"path": "../x.py"}}],
            }
        }

    root = make_bundle(edit)
    assert messages(root) == [
        "resources/tiny.yml: resources.pipelines.p.libraries[0].file.path: expected an existing "
        f"source file, got {root / 'x.py'} (missing)"
    ]


def test_a_target_catalog_other_than_its_environments_is_named(tmp_path: Path) -> None:
    """The jobs take the catalog from the bundle target, the CLI from project_config.yml:
    the two must name the same catalog for each environment."""
    import shutil

    for name in ("databricks.yml", "project_config.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("resources", "scripts", "sql", "src"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    assert validate_bundle(tmp_path)[1] == []
    text = (tmp_path / "databricks.yml").read_text()
    (tmp_path / "databricks.yml").write_text(text.replace("catalog: finml_acc", "catalog: other"))
    problems = [str(p) for p in validate_bundle(tmp_path)[1]]
    assert problems == [
        "databricks.yml: targets.acc.variables.catalog: expected finml_acc "
        "(environments.acc.catalog of project_config.yml), got other"
    ]


def add_every_resource_type(root: dict, job: dict) -> None:
    """A notebook job and the resource types the old hand-written models rejected."""
    resources = job["resources"]
    resources["jobs"]["notebook_job"] = {
        "name": "nb",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "../nb.ipynb"}},
            {
                "task_key": "b",
                "depends_on": [{"task_key": "a"}],
                "notebook_task": {"notebook_path": "../nb.ipynb"},
            },
        ],
    }
    resources["schemas"] = {"markets": {"name": "markets", "catalog_name": "${var.catalog}"}}
    resources["volumes"] = {
        "landing": {
            "name": "landing",
            "catalog_name": "${var.catalog}",
            "schema_name": "${resources.schemas.markets.name}",
        }
    }
    resources["registered_models"] = {
        "risk": {"name": "risk", "catalog_name": "${var.catalog}", "schema_name": "markets"}
    }
    resources["experiments"] = {"risk": {"name": "/Shared/risk"}}


def test_notebook_tasks_and_every_resource_type_validate_clean(make_bundle) -> None:
    assert messages(make_bundle(add_every_resource_type)) == []


def test_an_unknown_key_under_a_volume_names_file_and_key_path(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        job["resources"]["volumes"]["landing"]["volume_kind"] = "MANAGED"

    assert messages(make_bundle(edit)) == [
        f"resources/tiny.yml: resources.volumes.landing.volume_kind: {UNKNOWN_FIELD}"
    ]


def test_a_broken_depends_on_in_a_notebook_job_is_named(make_bundle) -> None:
    """The graph checks run on every job, not only those FinML's runner executes."""

    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        job["resources"]["jobs"]["notebook_job"]["tasks"][1]["depends_on"] = [{"task_key": "z"}]

    assert messages(make_bundle(edit)) == [
        "resources/tiny.yml: resources.jobs.notebook_job.tasks[1].depends_on[0].task_key: "
        "expected one of ['a', 'b'], got 'z'"
    ]


def test_a_reference_to_an_undeclared_resource_is_named(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        job["resources"]["volumes"]["landing"]["schema_name"] = "${resources.schemas.nope.name}"

    assert messages(make_bundle(edit)) == [
        "resources/tiny.yml: resources.volumes.landing.schema_name: expected a defined "
        "reference, got ${resources.schemas.nope.name}"
    ]


def test_a_missing_databricks_yml_is_named(tmp_path: Path) -> None:
    assert messages(tmp_path) == [
        "databricks.yml: <file>: expected an existing YAML file, got none"
    ]


def test_an_unknown_key_deep_in_a_notebook_task_names_file_and_key_path(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        task = job["resources"]["jobs"]["notebook_job"]["tasks"][0]
        task["notebook_task"]["base_parameter"] = {"day": "1"}  # base_parameters

    assert messages(make_bundle(edit)) == [
        "resources/tiny.yml: resources.jobs.notebook_job.tasks[0].notebook_task."
        f"base_parameter: {UNKNOWN_FIELD}"
    ]


def test_a_bad_run_if_names_file_key_path_and_the_allowed_values(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["jobs"]["tiny_job"]["tasks"][1]["run_if"] = "SOMETIMES"

    [found] = messages(make_bundle(edit))
    assert found.startswith(
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[1].run_if: expected one of ["
    )
    assert "'ALL_DONE'" in found and found.endswith("or a ${...} reference, got 'SOMETIMES'")


def test_a_wrong_type_and_a_missing_required_field_are_named(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        job["resources"]["jobs"]["tiny_job"]["tasks"][1]["max_retries"] = "twice"
        del job["resources"]["volumes"]["landing"]["catalog_name"]

    assert messages(make_bundle(edit)) == [
        "resources/tiny.yml: resources.jobs.tiny_job.tasks[1].max_retries: expected an "
        "integer or a ${...} reference, got 'twice'",
        f"resources/tiny.yml: resources.volumes.landing.catalog_name: {REQUIRED}",
    ]


def test_an_unknown_resource_kind_names_file_and_key_path(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        job["resources"]["notebooks"] = {"daily": {"path": "../nb.ipynb"}}

    [found] = messages(make_bundle(edit))
    assert found.startswith("resources/tiny.yml: resources.notebooks: expected a resource kind (")
    assert found.endswith("got 'notebooks'")


def test_a_target_override_of_a_resource_is_checked_in_databricks_yml(make_bundle) -> None:
    def edit(root: dict, job: dict) -> None:
        add_every_resource_type(root, job)
        volumes = {"landing": {"comment": "prd", "volume_typ": "MANAGED"}}
        root["targets"]["prd"]["resources"] = {"volumes": volumes}

    assert messages(make_bundle(edit)) == [
        f"databricks.yml: targets.prd.resources.volumes.landing.volume_typ: {UNKNOWN_FIELD}"
    ]


def test_a_key_given_twice_in_a_resource_file_is_named_with_both_lines(make_bundle) -> None:
    # PyYAML would keep the second `name` silently; the Databricks CLI rejects it.
    root = make_bundle()
    tiny = root / "resources" / "tiny.yml"
    lines = tiny.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("name: tiny-"))
    lines.insert(at + 1, lines[at].replace("tiny-", "other-"))
    tiny.write_text("\n".join(lines) + "\n")
    found = messages(root)
    assert len(found) == 1
    assert found[0].startswith("resources/tiny.yml: <file>: expected valid YAML")
    assert f"'resources.jobs.tiny_job.name' on line {at + 2}" in found[0]
    assert f"given on line {at + 1} already" in found[0]
