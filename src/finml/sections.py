"""Validating a component's section of ``project_config.yml`` with its pydantic model."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from finml.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validate_section(model: type[M], section: dict[str, Any] | None, name: str) -> M:
    """``model`` validated from ``section`` (missing = the model's defaults).

    Raises:
        ConfigError: naming the section and every unknown field or invalid value.
    """
    try:
        return model.model_validate(section or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(map(str, e['loc'])) or '<root>'!r}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"config section {name!r}: {problems}") from None
