"""Validators of ``resources.<kind>.<key>`` generated from the ``databricks-bundles`` package.

``databricks-bundles`` (Databricks' Python support for bundles, pinned in ``pyproject.toml``)
ships every bundle resource (jobs, pipelines, schemas, volumes, registered models, serving
endpoints, ...) as dataclasses generated from the bundle schema the Databricks CLI uses. Its
own ``Job.from_dict`` stops at the first error with no key path, and pydantic cannot build
models from these dataclasses (``type[list[...]]`` hints), so this module walks their type
hints instead and reports *every* problem with its key path:

* a key the dataclass has no field for (``unknown field``), a field without a default
  that is missing (``partial=False``; a target's override is partial, so not there);
* a wrong scalar type, a value not in an ``Enum``, errors inside lists and mappings;
* wherever the hint is ``VariableOr*`` a whole ``${...}`` reference is accepted too.

Scalars are accepted as the CLI normalises them: a string field takes any scalar, an
integer field ``"3"``, a boolean field ``yes``/``no``. One validator is built per
(type, partial, reference) and cached; a dataclass resolves its fields on first use, so
recursive types (a ``for_each_task`` holds a task) build lazily.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from functools import cache
from types import NoneType, UnionType
from typing import Any, NamedTuple, Union, get_args, get_origin, get_type_hints

from databricks.bundles.core import _generated
from databricks.bundles.core._variable import Variable
from databricks.bundles.version import __version__ as BUNDLES_VERSION

Path = tuple[str | int, ...]
Issue = tuple[Path, str]
Check = Callable[[Any, Path], list[Issue]]

UNKNOWN_FIELD = (
    f"unknown field (not in the Databricks bundle schema, databricks-bundles {BUNDLES_VERSION})"
)
REQUIRED = "expected a value (required), got none"
_REFERENCE = re.compile(r"\$\{[A-Za-z0-9_.\-\[\]]+\}")  # a whole value, as ${var.x}
_TRUE = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})
_FALSE = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})


@cache
def resource_kinds() -> tuple[str, ...]:
    """Every ``resources`` kind ``databricks-bundles`` has (a module per kind, named as the
    YAML key), listed without importing the models (which takes ~0.2 s per kind)."""
    return tuple(sorted(module.name for module in pkgutil.iter_modules(_generated.__path__)))


@cache
def resource_type(kind: str) -> type | None:
    """The dataclass of one ``resources`` kind (``jobs`` -> ``Job``), None if unknown."""
    if kind not in resource_kinds():
        return None
    spec = importlib.import_module(f"{_generated.__name__}.{kind}")._resource_type()
    if spec.plural_name != kind:
        raise TypeError(
            f"databricks-bundles: expected resource kind {kind}, got {spec.plural_name}"
        )
    model: type = spec.resource_type
    return model


def resources_problems(resources: Any, path: Path, *, partial: bool = False) -> list[Issue]:
    """Every problem of a ``resources`` mapping at ``path`` (``("resources",)`` or
    ``("targets", t, "resources")``), as ``(key path, message)``; empty when it conforms."""
    if resources is None:
        return []
    if not isinstance(resources, dict):
        return [(path, f"expected a mapping of resource kinds, got {_shown(resources)}")]
    out: list[Issue] = []
    for kind, entries in resources.items():
        model = resource_type(kind)
        if model is None:
            kinds = ", ".join(resource_kinds())
            out.append(((*path, kind), f"expected a resource kind ({kinds}), got {kind!r}"))
        elif entries is not None and not isinstance(entries, dict):
            out.append(
                ((*path, kind), f"expected a mapping of {kind} by key, got {_shown(entries)}")
            )
        else:
            check = checker(model, partial=partial)
            for key, value in (entries or {}).items():
                out += check(value, (*path, kind, key))
    return out


@cache
def checker(hint: Any, *, partial: bool = False, reference: bool = False) -> Check:
    """The validator of values of type ``hint`` (``reference``: a ``${...}`` also fits)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        return _union(args, partial)
    base = _base(hint, origin, args, partial, reference)
    if not reference:
        return base
    return lambda value, path: [] if _is_reference(value) else base(value, path)


def _base(hint: Any, origin: Any, args: Sequence[Any], partial: bool, ref: bool) -> Check:
    if origin is list:
        return _sequence(checker(args[0], partial=partial), ref)
    if origin is dict:
        return _mapping(checker(args[1], partial=partial), ref)
    if is_dataclass(hint) and isinstance(hint, type):
        return _dataclass(hint, partial, ref)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _enum(hint, ref)
    if hint is Any:
        return lambda value, path: []
    if hint in _SCALARS:
        return _scalar(hint, ref)
    raise TypeError(f"no validator for the type hint {hint!r}")


def _union(args: Sequence[Any], partial: bool) -> Check:
    """``VariableOr[T]`` / ``VariableOrOptional[T]`` / ``Optional[T]``: T, maybe ``${...}``
    and ``None`` (a list or mapping also takes ``None``: the CLI reads it as empty)."""
    reference = any(get_origin(arg) is Variable for arg in args)
    [inner] = [arg for arg in args if arg is not NoneType and get_origin(arg) is not Variable]
    empty_ok = NoneType in args or get_origin(inner) in (list, dict)
    check = checker(inner, partial=partial, reference=reference)
    return lambda value, path: [] if value is None and empty_ok else check(value, path)


class _Field(NamedTuple):
    check: Check
    required: bool


@cache
def _fields(model: type, partial: bool) -> dict[str, _Field]:
    hints = get_type_hints(model)
    return {
        f.name: _Field(
            checker(hints[f.name], partial=partial),
            f.default is MISSING and f.default_factory is MISSING,
        )
        for f in fields(model)
    }


def _dataclass(model: type, partial: bool, ref: bool) -> Check:
    expected = _expected(f"a mapping ({model.__name__})", ref)

    def check(value: Any, path: Path) -> list[Issue]:
        if not isinstance(value, dict):
            return [(path, f"expected {expected}, got {_shown(value)}")]
        known = _fields(model, partial)
        out = [((*path, key), UNKNOWN_FIELD) for key in value if key not in known]
        for name, spec in known.items():
            if name in value:
                out += spec.check(value[name], (*path, name))
            elif spec.required and not partial:
                out.append(((*path, name), REQUIRED))
        return out

    return check


def _sequence(item: Check, ref: bool) -> Check:
    expected = _expected("a list", ref)

    def check(value: Any, path: Path) -> list[Issue]:
        if not isinstance(value, list):
            return [(path, f"expected {expected}, got {_shown(value)}")]
        return [issue for i, element in enumerate(value) for issue in item(element, (*path, i))]

    return check


def _mapping(item: Check, ref: bool) -> Check:
    expected = _expected("a mapping", ref)

    def check(value: Any, path: Path) -> list[Issue]:
        if not isinstance(value, dict):
            return [(path, f"expected {expected}, got {_shown(value)}")]
        return [issue for key, element in value.items() for issue in item(element, (*path, key))]

    return check


def _enum(enum: type[Enum], ref: bool) -> Check:
    allowed = [str(member.value) for member in enum]
    expected = _expected(f"one of {allowed}", ref)

    def check(value: Any, path: Path) -> list[Issue]:
        ok = isinstance(value, str) and value in allowed
        return [] if ok else [(path, f"expected {expected}, got {_shown(value)}")]

    return check


def _is_int(value: Any) -> bool:
    if isinstance(value, str):
        return re.fullmatch(r"[+-]?\d+", value.strip()) is not None
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


_SCALARS: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    str: ("a string", lambda v: isinstance(v, str | int | float | bool)),
    int: ("an integer", _is_int),
    float: ("a number", _is_number),
    bool: ("a boolean", lambda v: isinstance(v, bool) or v in _TRUE or v in _FALSE),
}


def _scalar(hint: Any, ref: bool) -> Check:
    name, fits = _SCALARS[hint]
    expected = _expected(name, ref)

    def check(value: Any, path: Path) -> list[Issue]:
        ok = not isinstance(value, list | dict) and fits(value)
        return [] if ok else [(path, f"expected {expected}, got {_shown(value)}")]

    return check


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REFERENCE.fullmatch(value) is not None


def _expected(what: str, ref: bool) -> str:
    return f"{what} or a ${{...}} reference" if ref else what


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
