"""Text helpers of ``docs/reference.md``: table cells and machine-free values.

The page is committed and compared byte for byte by a test, so nothing in it may depend on
the machine that rendered it: the home folder and the Python prefix are replaced by
placeholders wherever they appear (the working folder is not: relative defaults such as ``.``
are never resolved, and an example's ``/tmp/...`` must not depend on where it ran).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from enum import Enum
from pathlib import Path, PurePath
from typing import Any


def portable(text: str) -> str:
    """``text`` with this machine's folders replaced: the Python prefix by
    ``<python-prefix>``, the home folder by ``~`` (longest first, so a prefix under the home
    folder is named as the prefix)."""
    places = {
        sys.prefix: "<python-prefix>",
        sys.base_prefix: "<python-prefix>",
        str(Path.home()): "~",
    }
    for place in sorted(places, key=len, reverse=True):
        if len(place) > 1:  # never rewrite a bare "/"
            text = text.replace(place, places[place])
    return text


def cell(text: str) -> str:
    """``text`` as one Markdown table cell: one line, ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def value_text(value: Any) -> str:
    """A default as it would be written in YAML-ish JSON: ``null``, ``true``, ``"a"``,
    ``[5, 10]``, ``{"k": 1.0}``; paths, dates and enum members as their text."""
    return portable(json.dumps(_plain(value), ensure_ascii=False))


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, PurePath):
        return os.fspath(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="json", by_alias=True))
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
