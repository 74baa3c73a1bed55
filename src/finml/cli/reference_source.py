"""What the source says about a settings field, where ``Field(description=...)`` is not used:
an attribute docstring (a string right after the field), the comment on the field's lines,
or the comment block just above it. FinML documents most settings with such comments, so the
reference reads them from the code rather than from a second, hand-kept list."""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
from functools import cache

from pydantic import BaseModel


@cache
def field_notes(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> its note, for every field of ``model`` and of its settings bases (a field
    is described where it is declared)."""
    notes: dict[str, str] = {}
    for klass in reversed(model.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            notes.update(_declared_notes(klass))
    return {name: note for name, note in notes.items() if name in model.model_fields}


def _declared_notes(klass: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):  # built in a test or an interpreter: nothing to read
        return {}
    lines = source.splitlines()
    comments = _comments(source)
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    notes: dict[str, str] = {}
    for index, statement in enumerate(body.body):
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        following = body.body[index + 1] if index + 1 < len(body.body) else None
        note = _docstring(following) or _beside(statement, comments)
        note = note or _above(statement.lineno, lines)
        if note:
            notes[statement.target.id] = note
    return notes


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on that line (without ``#``)."""
    found: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def _docstring(statement: ast.stmt | None) -> str:
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    ):
        return " ".join(statement.value.value.split())
    return ""


def _beside(statement: ast.stmt, comments: dict[int, str]) -> str:
    end = statement.end_lineno or statement.lineno
    texts = [comments[n] for n in range(statement.lineno, end + 1) if n in comments]
    return " ".join(t for t in texts if t)


def _above(lineno: int, lines: list[str]) -> str:
    """The comment lines directly above line ``lineno`` (1-based), up to a blank or code line."""
    block: list[str] = []
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        block.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    return " ".join(t for t in block if t)
