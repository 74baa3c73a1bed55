"""Field annotations as the reference shows them (``int``, ``list[str]``, ``"a" | "b"``), and
the settings models nested in a field (rendered as sections of their own)."""

from __future__ import annotations

import json
import types
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

_NAMES: dict[Any, str] = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
    Path: "path",
    date: "date",
    datetime: "datetime",
    SecretStr: "secret",
    type(None): "null",
    Any: "any",
}


def type_text(annotation: Any) -> str:
    """``annotation`` in YAML terms: ``int``, ``path | null``, ``list[str]``,
    ``map[str, float]``, a ``Literal`` or enum as its quoted values, a model as ``mapping``."""
    if annotation in _NAMES:
        return _NAMES[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(_value(a)) for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " | ".join(json.dumps(_value(m)) for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if origin in (list, set, frozenset) or (origin is tuple and args[-1:] == (Ellipsis,)):
        return f"list[{type_text(args[0])}]" if args else "list"
    if origin is tuple:
        return f"[{', '.join(type_text(a) for a in args)}]"
    if origin is dict:
        return f"map[{type_text(args[0])}, {type_text(args[1])}]" if args else "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def nested_models(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The settings models inside ``annotation`` with the key suffix of each: ``""`` for the
    model itself or an optional one, ``.<name>`` for the values of a mapping, ``[]`` for the
    items of a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return [found for a in args for found in nested_models(a)]
    if origin is dict and len(args) == 2:
        return [(f".<{_key_name(args[0])}>{s}", m) for s, m in nested_models(args[1])]
    if origin in (list, tuple) and args:
        return [(f"[]{s}", m) for s, m in nested_models(args[0])]
    return []


def _key_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "/".join(str(_value(a)) for a in get_args(annotation))
    return "name"
