"""The one settings framework: a strict pydantic base and one way to report what is wrong.

Every settings or document model derives from :class:`StrictModel` (``extra="forbid"``,
frozen), so an unknown key or a bad value fails at construction. Every pydantic
``ValidationError`` becomes one message per problem (:func:`describe`), naming where the
input came from (a file, a config section), the field's key path, what was expected and
what was found::

    config section 'serving': field 'serving.ab.challenger_percent': expected less than or
    equal to 100, got 120
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from finml.errors import ConfigError, FinmlError

__all__ = [
    "StrictModel",
    "describe",
    "loc_path",
    "problem_text",
    "section_settings",
    "validate_model",
    "validate_section",
]

_Model = TypeVar("_Model", bound=BaseModel)

UNKNOWN_KEY = "unknown key (not allowed here)"


class StrictModel(BaseModel):
    """Base of every FinML settings and document model: unknown keys are errors and a
    validated instance is immutable. Subclasses add to (never loosen) this config."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_model(
    model: type[_Model],
    data: Any,
    where: str,
    *,
    prefix: str = "",
    origins: dict[str, str] | None = None,
    error: type[FinmlError] = ConfigError,
) -> _Model:
    """``model`` validated from ``data``.

    ``where`` names the input (``config file x.yml``, ``config section 'serving'``),
    ``prefix`` is the key path of ``data`` inside it (``serving``) and ``origins`` maps a
    field to where its value came from (see :func:`describe`).

    Raises:
        ConfigError: (or ``error``) every problem, each naming its field, the expected and
            the found value.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(describe(exc, where, origins=origins, prefix=prefix)) from None


def validate_section(model: type[_Model], section: Any, name: str) -> _Model:
    """``model`` validated from the ``name`` section of the project config (missing or
    empty = the model's defaults; an instance of ``model`` is returned as it is).

    Raises:
        ConfigError: naming the section and every unknown field or invalid value.
    """
    if isinstance(section, model):
        return section
    return validate_model(model, section or {}, f"config section {name!r}", prefix=name)


def describe(
    exc: ValidationError,
    where: str,
    *,
    origins: dict[str, str] | None = None,
    prefix: str = "",
) -> str:
    """One clause per problem, joined by ``; ``: ``<where>: field 'a.b': expected X, got Y``,
    or ``environment variable FINML_X: ...`` when ``origins`` says the value came from one.

    ``prefix`` is prepended to every field's key path; ``origins`` maps a key path (or its
    first key) to where it came from (``environments.dev.catalog``, ``$FINML_CATALOG``).
    """
    problems = []
    for err in exc.errors():
        field = _origin_of(_joined(prefix, loc_path(err["loc"])), origins or {})
        subject = (
            f"environment variable {field[1:]}"
            if field.startswith("$")
            else f"{where}: field {field!r}"
        )
        problems.append(f"{subject}: {problem_text(err)}")
    return "; ".join(problems)


def problem_text(err: ErrorDetails, *, unknown: str = UNKNOWN_KEY) -> str:
    """What is wrong with one field: ``expected X, got Y`` (``unknown`` for an unknown key;
    a validator's own ``expected ..., got ...`` message as it is)."""
    kind, message = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return unknown
    if kind == "missing":
        return "required, found nothing"
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    found = err.get("input")
    shown = "a mapping" if isinstance(found, dict) else repr(found)
    return f"expected {_expected(message)}, got {shown}"


def _expected(message: str) -> str:
    """pydantic's ``Input should be X`` -> ``X``; ``String should match pattern P`` ->
    ``a string matching pattern P``; ``List should have at least 1 item`` -> ``a list with
    at least 1 item``."""
    subject, verb, rest = (*message.split(" ", 2), "", "")[:3]
    if verb == "should" and rest.startswith("be "):
        return rest.removeprefix("be ")
    if verb == "should" and rest.startswith("have "):
        return f"a {subject.lower()} with {rest.removeprefix('have ')}"
    if verb == "should" and rest.startswith("match "):
        return f"a {subject.lower()} matching {rest.removeprefix('match ')}"
    return message[:1].lower() + message[1:]


def loc_path(loc: Sequence[Any]) -> str:
    """``("resources", "jobs", "x", "tasks", 2, "foo")`` -> ``resources.jobs.x.tasks[2].foo``
    (pydantic's ``function-after[...]`` steps left out)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).startswith("function-"):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def _joined(prefix: str, path: str) -> str:
    if not prefix or not path:
        return prefix or path or "<root>"
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _origin_of(field: str, origins: dict[str, str]) -> str:
    """``spark.master`` -> ``environments.dev.spark.master`` (or ``$FINML_SPARK_MASTER``)."""
    if field in origins:
        return origins[field]
    cut = min((i for i in (field.find("."), field.find("[")) if i > 0), default=len(field))
    head, rest = field[:cut], field[cut:]
    if head in origins and not origins[head].startswith("$"):
        return f"{origins[head]}{rest}"
    return field


def section_settings(config: Any, name: str, model: type[_Model]) -> _Model:
    """The ``name`` section of ``config`` as ``model``, validated once per section value.

    A :class:`~finml.config.ProjectConfig` keeps what it validated (loading it validates
    every component section), so components that ask again get the same instance; a new
    section value (``model_copy(update=...)``) is validated anew. Any other object is
    validated each time.

    Raises:
        ConfigError: naming the section and every unknown field or invalid value.
    """
    raw = getattr(config, name, None)
    # keyed by the section value's identity (copies of a config share this dict)
    kept: dict[tuple[str, int], tuple[Any, Any]] | None = getattr(config, "_section_settings", None)
    hit = kept.get((name, id(raw))) if kept is not None else None
    if hit is not None and hit[0] is raw and isinstance(hit[1], model):
        return hit[1]  # type: ignore[no-any-return]
    value = validate_section(model, raw, name)
    if kept is not None:
        kept[(name, id(raw))] = (raw, value)  # holds raw: its id is not reused
    return value
