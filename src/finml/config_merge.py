"""Merging a config's layers and naming where a bad value came from.

A resolved setting comes from ``defaults``, ``environments.<env>`` or a ``FINML_*`` variable
(:data:`ENV_OVERRIDES`). :func:`merge_layers` merges them in that order and remembers each
field's origin, so that :func:`validated` can say ``field 'environments.dev.catalog'`` or
``environment variable FINML_CATALOG`` rather than a bare ``catalog``.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import BaseModel

from finml.errors import ConfigError
from finml.settings_base import validate_model

_Model = TypeVar("_Model", bound=BaseModel)

ENGINES = ("auto", "delta-spark", "delta-rs")

# Environment variable -> dotted field of the environment settings it overrides.
ENV_OVERRIDES: dict[str, str] = {
    "FINML_HOME": "home",
    "FINML_WAREHOUSE": "warehouse",
    "FINML_LANDING": "landing",
    "FINML_CATALOG": "catalog",
    "FINML_SCHEMA": "schema",
    "FINML_DELTA_ENGINE": "delta_engine",
    "FINML_DELTA_JARS": "delta_jars",
    "FINML_SPARK_MASTER": "spark.master",
    "MLFLOW_TRACKING_URI": "mlflow_tracking_uri",
    "MLFLOW_REGISTRY_URI": "mlflow_registry_uri",
}


def merge_layers(
    defaults: dict[str, Any], block: dict[str, Any], env: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """``defaults`` <- ``block`` (``environments.<env>``) <- ``FINML_*`` variables.

    Returns the merged settings and, per top-level field (and per overridden dotted field),
    where it came from: ``defaults.<key>``, ``environments.<env>.<key>`` or ``$VARIABLE``.

    Raises:
        ConfigError: a variable's value can never be valid (named).
    """
    overrides, variables = environment_overrides()
    origins = {key: f"defaults.{key}" for key in defaults}
    origins.update({key: f"environments.{env}.{key}" for key in block})
    origins.update({field: f"${variable}" for variable, field in variables.items()})
    return merge(merge(defaults, block), overrides), origins


def environment_overrides() -> tuple[dict[str, Any], dict[str, str]]:
    """The overrides set in the environment, and variable -> field for each one set.

    Raises:
        ConfigError: naming the variable, when its value can never be valid.
    """
    overrides: dict[str, Any] = {}
    applied: dict[str, str] = {}
    for variable, field in ENV_OVERRIDES.items():
        value = os.environ.get(variable)
        if not value:
            continue
        if field == "delta_engine" and value not in ENGINES:
            raise ConfigError(
                f"environment variable {variable}: expected one of {ENGINES}, got {value!r}"
            )
        parsed: Any = value.split(os.pathsep) if field == "delta_jars" else value
        target = overrides
        *parents, leaf = field.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = parsed
        applied[variable] = field
    return overrides, applied


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``top``, nested mappings merged key by key."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def validated(
    model: type[_Model], data: dict[str, Any], where: str, origins: dict[str, str] | None = None
) -> _Model:
    """``model`` validated from ``data``.

    Raises:
        ConfigError: every problem, each naming its field's origin
            (see :func:`finml.settings_base.describe`).
    """
    return validate_model(model, data, where, origins=origins)
