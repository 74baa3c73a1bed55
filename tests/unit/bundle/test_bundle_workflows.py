"""GitHub workflows: valid YAML, the stage order the issue asks for, and only real commands
(make targets that exist, finml commands that exist, bundle jobs that exist)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml

from finml.bundle import load_bundle

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def commands(workflow: dict) -> list[str]:
    out = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).replace("\\\n", " ").splitlines():
                if line.strip():
                    out.append(line.strip())
    return out


def finml_commands() -> set[str]:
    from finml.cli import app
    from finml.cli import bundle as bundle_cli

    if not any(g.name == "job" for g in app.registered_groups):
        bundle_cli.register(app)
    click_app = typer.main.get_command(app)
    found = set()
    for name, command in click_app.commands.items():
        found.add(name)
        for sub in getattr(command, "commands", {}):
            found.add(f"{name} {sub}")
    return found


def test_ci_runs_lint_test_security_validate_wheel_in_that_order() -> None:
    jobs = load("ci.yml")["jobs"]
    assert jobs["test"]["needs"] == "lint"
    assert jobs["security"]["needs"] == "test"
    assert jobs["bundle-validate"]["needs"] == "test"
    assert set(jobs["wheel"]["needs"]) == {"security", "bundle-validate"}
    security = " ".join(commands({"jobs": {"s": jobs["security"]}}))
    assert "bandit -r src scripts" in security and "pip-audit" in security


def test_cd_deploys_dev_acc_prd_with_environments_and_a_rollback() -> None:
    workflow = load("cd.yml")
    jobs = workflow["jobs"]
    assert [jobs[j].get("environment") for j in ("deploy-dev", "deploy-acc", "deploy-prd")] == [
        "dev",
        "acc",
        "prd",
    ]
    assert jobs["deploy-acc"]["needs"] == "deploy-dev"
    assert jobs["deploy-prd"]["needs"] == "deploy-acc"
    assert "rollback_job" in " ".join(commands({"jobs": {"r": jobs["rollback"]}}))
    assert "workflow_dispatch" in workflow["on"]


def test_model_validation_is_manual_only() -> None:
    assert set(load("model_validation.yml")["on"]) == {"workflow_dispatch"}


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "model_validation.yml"])
def test_every_command_is_real(name: str) -> None:
    makefile = (REPO / "Makefile").read_text()
    make_targets = set(re.findall(r"^([a-zA-Z_-]+):", makefile, flags=re.MULTILINE))
    jobs = set(load_bundle(REPO).jobs)
    targets = {"local", "dev", "acc", "prd"}
    ours = finml_commands()
    for line in commands(load(name)):
        words = shlex.split(line.replace("${{", "'").replace("}}", "'"))
        program = words[0]
        if program == "make":
            assert words[1] in make_targets, line
        elif program == ".venv/bin/finml":
            assert " ".join(words[1:3]) in ours or words[1] in ours, line
        elif program == "databricks":
            assert words[1] == "bundle" and words[2] in {"validate", "deploy", "run"}, line
            target = words[words.index("-t") + 1]
            assert target.strip() in targets or target.strip().startswith("inputs."), line
            if words[2] == "run":
                assert words[words.index("-t") + 2] in jobs, line
        else:
            assert program in {
                "python",
                ".venv/bin/pip",
                ".venv/bin/bandit",
                ".venv/bin/pip-audit",
            }, line
