"""Unknown keys anywhere in a config mapping, named by path with the keys allowed there.

pydantic's ``extra="forbid"`` rejects an unknown key but says only "extra inputs are not
permitted", and a component section kept as a plain mapping is not checked until the
component reads it. :func:`check_keys` walks the raw YAML mapping along the pydantic
models' field types (``X | None``, ``dict[str, X]``, ``list[X]``, nested models) and stops
at the first key a strict model does not define: ``environments.dev.spark.shufle_partitions:
unknown key; did you mean 'shuffle_partitions'? (allowed: ...)``.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from finml.config_file import key_path


class UnknownKey(ValueError):
    """A key that the model at ``path``'s parent does not define."""

    def __init__(self, path: str, key: str, allowed: list[str]) -> None:
        self.path, self.key, self.allowed = path, key, allowed
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        super().__init__(
            f"key {path!r}: unknown key; {hint}expected one of {', '.join(allowed) or 'none'}"
        )


def check_keys(
    data: Any, annotation: Any, *, top: Mapping[str, Any] | None = None, trail: tuple[str, ...] = ()
) -> None:
    """Check every key of ``data`` (parsed YAML) against the type ``annotation``.

    ``top`` replaces the annotation of top-level fields (a component section declared as a
    plain mapping, checked against the component's model).

    Raises:
        UnknownKey: the first key a model with ``extra="forbid"`` does not define.
    """
    for member in _members(annotation):
        if _descend(data, member, top or {}, trail):
            return


def _descend(data: Any, annotation: Any, top: Mapping[str, Any], trail: tuple[str, ...]) -> bool:
    """Check ``data`` as one alternative ``annotation``; False when its shape does not fit."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(data, Mapping):
            return False
        _check_model(data, annotation, top, trail)
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (dict, Mapping) and isinstance(data, Mapping) and len(args) == 2:
        for key, value in data.items():
            check_keys(value, args[1], trail=(*trail, str(key)))
        return True
    if origin in (list, tuple, Sequence) and isinstance(data, list) and args:
        for index, item in enumerate(data):
            check_keys(item, args[0], trail=(*trail, f"[{index}]"))
        return True
    return False


def _check_model(
    data: Mapping[str, Any], model: type[BaseModel], top: Mapping[str, Any], trail: tuple[str, ...]
) -> None:
    by_key = {(info.alias or name): info for name, info in model.model_fields.items()}
    accepted = dict(by_key)
    if model.model_config.get("populate_by_name"):
        accepted.update(model.model_fields)
    strict = model.model_config.get("extra") == "forbid"
    for key, value in data.items():
        info = accepted.get(str(key))
        if info is None:
            if strict:
                raise UnknownKey(key_path([*trail, str(key)]), str(key), sorted(by_key))
            continue
        annotation = top.get(str(key), info.annotation)
        check_keys(value, annotation, trail=(*trail, str(key)))


def _members(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of ``X | Y`` / ``Optional[X]``, else ``(annotation,)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)
