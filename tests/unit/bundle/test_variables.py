"""Variable resolution: default <- target <- BUNDLE_VAR_* <- overrides; bundle.* and git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from finml.bundle.loader import load_bundle
from finml.bundle.variables import build_context, resolve
from finml.errors import JobError

REPO = Path(__file__).resolve().parents[3]


def test_target_values_override_defaults_and_env_and_overrides_win(
    make_bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = load_bundle(make_bundle())
    assert build_context(bundle, "local").values["var.catalog"] == "c_local"
    assert build_context(bundle, "prd").values["var.pause_status"] == "UNPAUSED"
    monkeypatch.setenv("BUNDLE_VAR_catalog", "c_env")
    assert build_context(bundle, "prd").values["var.catalog"] == "c_env"
    assert build_context(bundle, "prd", {"catalog": "c_cli"}).values["var.catalog"] == "c_cli"


def test_bundle_git_and_workspace_references_resolve(make_bundle) -> None:
    root = make_bundle()
    bundle = load_bundle(root)
    local, prd = build_context(bundle, "local"), build_context(bundle, "prd")
    # The temp bundle is not a git checkout: commit is empty; variables can embed it.
    assert local.values["var.tag"] == "sha-" + local.values["bundle.git.commit"]
    assert local.values["workspace.file_path"] == str(root)
    assert prd.values["workspace.root_path"] == "/Workspace/x/prd"
    assert prd.values["workspace.file_path"] == "/Workspace/x/prd/files"
    job = resolve(bundle.jobs["tiny_job"], prd, "resources.jobs.tiny_job")
    assert job["name"] == "tiny-prd"
    assert job["tasks"][0]["spark_python_task"]["parameters"][:2] == ["--catalog", "c_prd"]
    # Runtime references are left for the job runner.
    assert job["tasks"][2]["condition_task"]["left"] == "{{tasks.first.values.decision}}"


def test_the_repository_commit_is_the_git_head() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    context = build_context(load_bundle(REPO), "local")
    assert context.values["bundle.git.commit"] == head
    assert context.values["var.catalog"] == "finml_local"


def test_unknown_target_override_and_reference_are_errors(make_bundle) -> None:
    bundle = load_bundle(make_bundle())
    with pytest.raises(JobError, match=r"expected one of \['local', 'prd'\], got 'qa'"):
        build_context(bundle, "qa")
    with pytest.raises(JobError, match=r"--var nope: expected one of"):
        build_context(bundle, "local", {"nope": "1"})
    with pytest.raises(JobError, match=r"x\.y: expected a defined reference, got \$\{var\.nope\}"):
        resolve({"x": {"y": "${var.nope}"}}, build_context(bundle, "local"))


def test_a_variable_without_any_value_is_an_error(make_bundle) -> None:
    bundle = load_bundle(make_bundle(lambda root, job: root["variables"].update(empty={})))
    with pytest.raises(JobError, match=r"variables\.empty: expected a default"):
        build_context(bundle, "local")


def test_a_home_relative_root_path_expands_like_the_databricks_cli() -> None:
    import getpass

    context = build_context(load_bundle(REPO), "dev")
    user = getpass.getuser()
    assert context.values["workspace.root_path"] == f"/Workspace/Users/{user}/.bundle/finml/dev"
    assert context.values["workspace.file_path"].endswith("/.bundle/finml/dev/files")
