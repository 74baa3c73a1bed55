"""The Databricks bundle schema, as ``finml bundle validate`` checks every bundle file.

Two halves, because ``databricks-bundles`` (Databricks' typed bundle resources, pinned in
``pyproject.toml``) covers only resources:

* ``resources.<kind>.<key>`` (and ``targets.<t>.resources``, a partial override) are
  checked by validators generated from its dataclasses (:mod:`finml.bundle.resource_schema`):
  every resource kind and task type Databricks has, an unknown kind an error;
* the top level of a file (``bundle``, ``include``, ``variables``, ``targets``,
  ``workspace``, ``artifacts``, ``sync``, ``permissions``, ``run_as``, ``presets``, ...)
  and ``targets.<t>`` are FinML's strict models below, written from the Databricks bundle
  configuration reference; an unknown key there is an error too.

:func:`schema_problems` returns every problem of one file as ``(key path, message)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from finml.bundle.resource_schema import REQUIRED, resources_problems
from finml.settings_base import StrictModel, loc_path, problem_text

UNKNOWN_KEY = "unknown field (not in the Databricks bundle configuration FinML accepts)"


class Lookup(StrictModel):
    """A variable resolved by name from the workspace (one of these)."""

    alert: str | None = None
    cluster: str | None = None
    cluster_policy: str | None = None
    dashboard: str | None = None
    instance_pool: str | None = None
    job: str | None = None
    metastore: str | None = None
    notification_destination: str | None = None
    pipeline: str | None = None
    query: str | None = None
    service_principal: str | None = None
    warehouse: str | None = None


class Variable(StrictModel):
    description: str | None = None
    default: Any = None
    type: Literal["complex"] | None = None
    lookup: Lookup | None = None


class Workspace(StrictModel):
    host: str | None = None
    profile: str | None = None
    root_path: str | None = None
    file_path: str | None = None
    artifact_path: str | None = None
    resource_path: str | None = None
    state_path: str | None = None
    auth_type: str | None = None
    client_id: str | None = None
    google_service_account: str | None = None
    azure_client_id: str | None = None
    azure_environment: str | None = None
    azure_login_app_id: str | None = None
    azure_tenant_id: str | None = None
    azure_use_msi: bool | None = None
    azure_workspace_resource_id: str | None = None


class Git(StrictModel):
    origin_url: str | None = None
    branch: str | None = None


class Lock(StrictModel):
    enabled: bool | None = None
    force: bool | None = None


class Deployment(StrictModel):
    fail_on_active_runs: bool | None = None
    lock: Lock | None = None


class BundleInfo(StrictModel):
    name: str | None = None  # required in databricks.yml (RootBundleInfo), not in a target
    databricks_cli_version: str | None = None
    uuid: str | None = None
    cluster_id: str | None = None
    compute_id: str | None = None
    git: Git | None = None
    deployment: Deployment | None = None


class RootBundleInfo(BundleInfo):
    name: str


class ArtifactFile(StrictModel):
    source: str


class Artifact(StrictModel):
    type: Literal["whl", "jar"] = "whl"
    build: str | None = None
    executable: Literal["bash", "sh", "cmd"] | None = None
    path: str = "."
    files: list[ArtifactFile] = Field(default_factory=list)
    dynamic_version: bool | None = None


class Sync(StrictModel):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)


class RunAs(StrictModel):
    user_name: str | None = None
    service_principal_name: str | None = None


class Permission(StrictModel):
    level: str
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None


class Presets(StrictModel):
    name_prefix: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    trigger_pause_status: Literal["PAUSED", "UNPAUSED"] | None = None
    jobs_max_concurrent_runs: int | None = None
    pipelines_development: bool | None = None
    source_linked_deployment: bool | None = None
    artifacts_dynamic_version: bool | None = None


class Script(StrictModel):
    content: str


class Python(StrictModel):
    venv_path: str | None = None
    resources: list[str] = Field(default_factory=list)
    mutators: list[str] = Field(default_factory=list)


class _Deployable(StrictModel):
    """What the top level and a target both set. ``resources`` is checked by
    :mod:`finml.bundle.resource_schema`, so it is any value here."""

    workspace: Workspace | None = None
    artifacts: dict[str, Artifact] = Field(default_factory=dict)
    resources: Any = None
    sync: Sync | None = None
    permissions: list[Permission] = Field(default_factory=list)
    run_as: RunAs | None = None
    presets: Presets | None = None


class Target(_Deployable):
    mode: Literal["development", "production"] | None = None
    default: bool = False
    bundle: BundleInfo | None = None
    git: Git | None = None
    cluster_id: str | None = None
    compute_id: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)  # a value or {default, lookup}


class BundleFile(_Deployable):
    """Any bundle file: ``databricks.yml`` or one it includes."""

    bundle: BundleInfo | None = None
    include: list[str] = Field(default_factory=list)
    variables: dict[str, Variable] = Field(default_factory=dict)
    targets: dict[str, Target] = Field(default_factory=dict)
    scripts: dict[str, Script] = Field(default_factory=dict)
    python: Python | None = None
    experimental: dict[str, Any] | None = None  # Databricks' own, changing between CLIs


class RootFile(BundleFile):
    """``databricks.yml``: names the bundle."""

    bundle: RootBundleInfo  # required here


def schema_problems(document: dict[str, Any], *, root: bool = False) -> list[tuple[str, str]]:
    """``(key path, message)`` for every way ``document`` (one bundle file, parsed; ``root``:
    it is ``databricks.yml``) breaks the Databricks bundle schema; empty when it conforms."""
    found: list[tuple[str, str]] = []
    try:
        (RootFile if root else BundleFile).model_validate(document)
    except ValidationError as exc:
        found += [
            (
                loc_path(err["loc"]) or "<root>",
                REQUIRED if err["type"] == "missing" else problem_text(err, unknown=UNKNOWN_KEY),
            )
            for err in exc.errors()
        ]
    issues = resources_problems(document.get("resources"), ("resources",))
    targets = document.get("targets")
    for name, target in targets.items() if isinstance(targets, dict) else ():
        if isinstance(target, dict):
            where = ("targets", name, "resources")
            issues += resources_problems(target.get("resources"), where, partial=True)
    return found + [(loc_path(path), message) for path, message in issues]
