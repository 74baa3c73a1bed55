"""Settings: the active configuration the export was given (``ProjectConfig`` and every
component section resolved with its defaults) as key -> value rows, secrets redacted; which
secret environment variables are set (never their values); and the versions of FinML, Python
and the libraries it runs on."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
from typing import Any

from pydantic import BaseModel

from finml.config import COMPONENT_SECTIONS, SECRET_VARIABLES, ProjectConfig
from finml.dashboard.extract import ExportContext, log, section, spec
from finml.dashboard.schema import Kpi, Section, Source, TableBlock

SPEC_ID = "settings"
PACKAGES = ("finml", "pyspark", "delta-spark", "deltalake", "mlflow", "pandas", "pyarrow", "plotly")
REDACTED = "•••• (redacted)"
# a key holding any of these (or a ``key`` part, e.g. ``s3a.secret.key``) is shown redacted
SECRET_WORDS = ("token", "secret", "password", "passwd", "credential", "api_key", "apikey")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^@/\s]+@")


@section(SPEC_ID, "Settings", order=90, hint="finml info")
def settings(ctx: ExportContext) -> Section:
    """From the export's ``ProjectConfig`` and the installed package metadata."""
    config = ctx.config
    flat = flatten(resolved(config))
    redacted = sum(1 for _, v in flat if v == REDACTED)
    secrets_set = [name for name in SECRET_VARIABLES if os.environ.get(name)]
    return Section(
        id=SPEC_ID,
        title=spec(SPEC_ID).title,
        status="ok",
        kpis=[
            Kpi(label="Environment", value=config.env),
            Kpi(label="Workspace", value=config.workspace),
            Kpi(label="Catalog.schema", value=f"{config.catalog}.{config.db_schema}"),
            Kpi(label="Config file", value=str(config.source_file or "built-in defaults")),
            Kpi(label="FinML", value=_version("finml")),
        ],
        tables=[
            TableBlock(
                id="settings_config",
                title="Active configuration (component sections with their defaults)",
                columns=["key", "value"],
                rows=[[k, v] for k, v in flat],
            ),
            TableBlock(
                id="settings_secrets",
                title="Secrets (read from the environment only; values never shown)",
                columns=["variable", "state"],
                rows=[[n, "set" if n in secrets_set else "unset"] for n in SECRET_VARIABLES],
            ),
            TableBlock(
                id="settings_versions",
                title="Versions",
                columns=["package", "version"],
                rows=[["python", platform.python_version()]]
                + [[name, _version(name)] for name in PACKAGES],
            ),
        ],
        sources=[Source(name="project config", exists=True, rows=len(flat))],
        covers=[
            f"{len(flat)} settings of environment {config.env} ({redacted} redacted), "
            f"{len(secrets_set)} of {len(SECRET_VARIABLES)} secret variables set"
        ],
    )


def resolved(config: ProjectConfig) -> dict[str, Any]:
    """``config`` as JSON-like values, each component section replaced by its settings
    resolved with defaults (through the config's own resolvers, ``COMPONENT_SECTIONS``;
    a section that fails to resolve keeps what the file set)."""
    out: dict[str, Any] = config.model_dump(mode="json", by_alias=True)
    for name, target in COMPONENT_SECTIONS.items():
        try:
            value = _imported(target)(config)
        except Exception as exc:  # shown as configured; loading the config validated it
            log.warning("dashboard_settings_unresolved", section=name, error=repr(exc))
            continue
        if isinstance(value, BaseModel):
            out[name] = value.model_dump(mode="json", by_alias=True)
    return out


def _imported(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    member: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        member = getattr(member, part)
    return member


def flatten(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``node`` as sorted (dotted key, value as written in YAML) pairs, secrets redacted; a
    list of scalars is one value, a list of mappings is indexed (``key[0].field``)."""
    if isinstance(node, dict):
        pairs: list[tuple[str, Any]] = []
        for key in sorted(node, key=str):
            pairs += flatten(node[key], f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(node, list) and any(isinstance(v, dict | list) for v in node):
        return [p for i, v in enumerate(node) for p in flatten(v, f"{prefix}[{i}]")]
    if is_secret(prefix):
        return [(prefix, REDACTED if node not in (None, "", [], {}) else None)]
    if isinstance(node, list):
        return [(prefix, ", ".join(str(v) for v in node))]
    if isinstance(node, str):
        return [(prefix, _URL_PASSWORD.sub(r"\1" + REDACTED + "@", node))]
    if isinstance(node, bool):
        return [(prefix, "true" if node else "false")]
    return [(prefix, None if node is None else str(node))]  # as given: a port is not 8,050


def is_secret(key: str) -> bool:
    """Whether the dotted ``key`` names a secret (a secret word, or a ``key`` part)."""
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) or "key" in re.split(r"[.\[\]_-]", lowered)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
