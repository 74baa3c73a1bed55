"""The configuration part of ``docs/reference.md``, read from the pydantic models.

Every key of ``project_config.yml`` is a field of a model: the file's top level
(``finml.config._ConfigFile``), an environment block (``_EnvironmentFields``, its defaults those
of ``ProjectConfig``), ``simulator``, ``collectors`` and the component sections
(``COMPONENT_MODELS``). Each field's type and constraints come from its annotation and
``Field(...)``, its default from the model (a computed default is computed: settings defaults
are constants), and its description from ``Field(description=...)``, else an attribute
docstring, else the comment written beside or just above it in the source.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from finml.cli.reference_source import field_notes
from finml.cli.reference_text import cell, value_text
from finml.cli.reference_types import nested_models, type_text

# Sphinx roles (":mod:`x`") and double backticks of docstrings, as Markdown code spans
_ROLE = re.compile(r":[a-z]+:`")
TABLE_HEAD = ["| key | type | default | description |", "|---|---|---|---|"]


def render_config() -> list[str]:
    """The ``## Configuration`` part of the reference, as lines."""
    from finml.config import (
        COMPONENT_MODELS,
        ENV_OVERRIDES,
        ProjectConfig,
        _ConfigFile,
        _EnvironmentFields,
        _imported,
    )
    from finml.config_collectors import CollectorSettings
    from finml.config_simulator import SimulatorConfig

    sections: dict[str, type[BaseModel]] = {
        "simulator": SimulatorConfig,
        "collectors": CollectorSettings,
        **{name: _imported(target) for name, target in COMPONENT_MODELS.items()},
    }
    lines = ["## Configuration", "", *_intro(sections)]
    lines += ["", "### Top level", "", *TABLE_HEAD]
    lines += [_row(key, _ConfigFile, key, sections) for key in _keys(_ConfigFile)]
    variables = {field: f"${name}" for name, field in ENV_OVERRIDES.items()}
    lines += ["", "### `defaults` and `environments.<env>`", ""]
    lines += [_doc(_EnvironmentFields), "", *_env_note(variables), "", *TABLE_HEAD]
    for key in _keys(_EnvironmentFields):
        lines.append(_row(key, ProjectConfig, key, sections, variables.get(key)))
    lines += _nested(ProjectConfig, "", only={"spark"}, variables=variables)
    for name in sorted(sections):
        lines += _model_section(sections[name], name)
    return lines


def _intro(sections: dict[str, type[BaseModel]]) -> list[str]:
    names = ", ".join(f"`{name}`" for name in sorted(sections))
    return [
        "`project_config.yml` (found at `--config`, `$FINML_CONFIG`, or `project_config.yml` "
        "in the working folder or a parent). An environment's settings merge as `defaults` <- "
        "`environments.<env>` <- environment variables. Sections: "
        f"{names}. Unknown keys are errors; secrets are never keys (they come from the "
        "environment).",
    ]


def _env_note(variables: dict[str, str]) -> list[str]:
    shown = ", ".join(f"`{v}` (`{k}`)" for k, v in sorted(variables.items()))
    return [f"Environment variables override: {shown}."]


def _keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys of ``model`` (aliases where set), in declaration order."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _field(model: type[BaseModel], key: str) -> tuple[str, FieldInfo]:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return name, field
    raise KeyError(f"{model.__name__} has no field {key!r}")


def _row(
    key: str,
    model: type[BaseModel],
    shown: str,
    sections: dict[str, Any] | None = None,
    variable: str | None = None,
) -> str:
    name, field = _field(model, key)
    description = field.description or field_notes(model).get(name, "")
    description = _markdown(description)
    if sections and key in sections and not nested_models(field.annotation):
        description = f"the `{key}` section (below). {description}".strip()
    if variable:
        description = f"{description} Overridden by `{variable}`.".strip()
    kind = type_text(field.annotation) + _constraints(field)
    return f"| `{shown}` | {cell(kind)} | {cell(default_text(field))} | {cell(description)} |"


def default_text(field: FieldInfo) -> str:
    """The default as YAML-ish JSON, ``required``, or (a settings model, whose own section
    gives its defaults) ``(below)``."""
    if field.default_factory is not None:
        default = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        default = field.default
    return "(below)" if isinstance(default, BaseModel) else value_text(default)


def _constraints(field: FieldInfo) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "min length"}
    words |= {"max_length": "max length", "multiple_of": "multiple of", "pattern": "matching"}
    found = []
    for item in field.metadata:
        for attribute, word in words.items():
            value = getattr(item, attribute, None)
            if value is not None:
                found.append(f"{word} `{value}`" if attribute == "pattern" else f"{word} {value}")
    return f", {', '.join(found)}" if found else ""


def _doc(model: type[BaseModel]) -> str:
    doc = inspect.getdoc(model) or ""
    return _markdown(" ".join(doc.split())) or "(no docstring)"


def _markdown(text: str) -> str:
    return _ROLE.sub("`", text).replace("``", "`")


def _model_section(
    model: type[BaseModel], key: str, variables: dict[str, str] | None = None
) -> list[str]:
    lines = ["", f"### `{key}`", "", _doc(model), "", *TABLE_HEAD]
    variables = variables or {}
    for k in _keys(model):
        lines.append(_row(k, model, f"{key}.{k}", variable=variables.get(f"{key}.{k}")))
    return lines + _nested(model, key)


def _nested(
    model: type[BaseModel],
    key: str,
    only: set[str] | None = None,
    variables: dict[str, str] | None = None,
) -> list[str]:
    """The sections of the fields of ``model`` that are models themselves (``serving.ab``,
    ``simulator.regimes.<name>``), depth first, in declaration order."""
    lines: list[str] = []
    for name in _keys(model):
        if only is not None and name not in only:
            continue
        _, field = _field(model, name)
        for suffix, inner in nested_models(field.annotation):
            path = f"{key}.{name}{suffix}" if key else f"{name}{suffix}"
            lines += _model_section(inner, path, variables)
    return lines
