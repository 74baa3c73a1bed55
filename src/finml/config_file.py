"""Finding and reading ``project_config.yml``: strict YAML, errors that point at the line.

* :func:`find_config_file` — the file to read: the path asked for (``--config``), else
  ``$FINML_CONFIG``, else ``project_config.yml`` in the working folder or its nearest parent
  that has one (so ``finml`` works from a subfolder, and a Databricks task whose working
  folder is ``scripts/`` finds the bundle's file). ``None`` when there is none anywhere.
* :func:`read_config_file` — the file's top-level mapping. PyYAML keeps the last of two
  equal keys without a word; :func:`reject_repeated_keys` rejects the second one instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from finml.errors import ConfigError

DEFAULT_CONFIG_FILE = "project_config.yml"
CONFIG_VARIABLE = "FINML_CONFIG"
_MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *anchor` may repeat keys on purpose


@dataclass(frozen=True)
class ConfigSearch:
    """Where :func:`find_config_file` looked (``--config`` and ``$FINML_CONFIG`` were not
    set), for the message when it found nothing."""

    folders: tuple[Path, ...]

    def describe(self) -> str:
        """``--config not given, $FINML_CONFIG not set, no project_config.yml in X or ...``"""
        first, last = self.folders[0], self.folders[-1]
        span = f"{first}" if first == last else f"{first} or any parent folder up to {last}"
        return f"--config not given, ${CONFIG_VARIABLE} not set, no {DEFAULT_CONFIG_FILE} in {span}"


def find_config_file(explicit: str | Path | None, cwd: Path | None = None) -> Path | ConfigSearch:
    """The config file to read, or where it was looked for when there is none.

    ``explicit`` (``--config``) and ``$FINML_CONFIG`` are taken as given: when they name a
    missing file that is an error, never a reason to look elsewhere.

    Raises:
        ConfigError: ``explicit`` or ``$FINML_CONFIG`` names a file that does not exist.
    """
    if explicit is not None:
        return _existing(Path(explicit), "given with --config")
    variable = os.environ.get(CONFIG_VARIABLE)
    if variable:
        return _existing(Path(variable), f"from ${CONFIG_VARIABLE}")
    start = (cwd or Path.cwd()).resolve()
    folders = (start, *start.parents)
    for folder in folders:
        candidate = folder / DEFAULT_CONFIG_FILE
        if candidate.is_file():
            return candidate
    return ConfigSearch(folders)


def _existing(path: Path, origin: str) -> Path:
    if not path.is_file():
        what = "a folder" if path.is_dir() else "nothing"
        raise ConfigError(
            f"config file {path} ({origin}): expected an existing YAML file, found {what}"
        )
    return path


def read_config_file(file: Path) -> dict[str, Any]:
    """The top-level mapping of YAML file ``file``.

    Raises:
        ConfigError: naming ``file`` when it cannot be read, is empty, is not YAML (with the
            line and column), repeats a key in one mapping (with the key's path and both
            lines), or is not a mapping at the top level.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {file}: expected readable UTF-8 text, got {exc}") from None
    try:
        data = load_yaml(text)
    except DuplicateKey as exc:
        raise ConfigError(
            f"config file {file}, line {exc.line}: key {exc.path!r} is given twice (first on "
            f"line {exc.first_line}); expected each key once (YAML would keep only the last)"
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"config file {file}, {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file}: expected valid YAML, got {exc}") from None
    if data is None:
        raise ConfigError(
            f"config file {file}: expected a mapping of settings, got an empty file "
            "(write {} for all defaults)"
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {file}: expected a mapping at the top level, "
            f"got {type(data).__name__} {_short(data)}"
        )
    return data


def load_yaml(text: str) -> Any:
    """``text`` parsed as YAML with safe types and unique keys (see :func:`reject_repeated_keys`).

    libyaml (PyYAML's C parser, ``CSafeLoader``) composes the node graph, which is checked
    for repeated keys, then builds the data; it reads a config 5-10x faster than the pure
    Python loader, which every task of a job reads its config with.

    Raises:
        DuplicateKey: a mapping holds the same key twice. yaml.YAMLError: not YAML.
    """
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        reject_repeated_keys(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


# libyaml where PyYAML was built with it (the wheels on PyPI are), else the Python parser.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(yaml.YAMLError):
    """A mapping holds a key twice; ``path`` is the key's dotted path from the top."""

    def __init__(self, path: str, line: int, first_line: int) -> None:
        super().__init__(f"key {path!r} on line {line} was given on line {first_line} already")
        self.path, self.line, self.first_line = path, line, first_line


def reject_repeated_keys(root: yaml.Node) -> None:
    """Raise :class:`DuplicateKey` for a key given twice in one mapping of the composed
    document ``root``, at any depth (merge keys ``<<`` excepted: overriding them is their
    point). PyYAML keeps the last of two equal keys without a word.

    Keys are compared as written (tag and text), so ``a`` and ``'a'`` are the same key. A
    node reached again through an alias (``*anchor``) was checked where it was defined.
    """
    _check_node(root, [], set())


def _check_node(node: yaml.Node, trail: list[str], seen: set[int]) -> None:
    """:func:`reject_repeated_keys` below ``node``, in document order."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_node(item, [*trail, f"[{index}]"], seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                _check_node(value, trail, seen)
                continue
            earlier = first.setdefault((key.tag, key.value), key)
            if earlier is not key:
                path = key_path([*trail, str(key.value)])
                raise DuplicateKey(path, key.start_mark.line + 1, earlier.start_mark.line + 1)
            _check_node(value, [*trail, str(key.value)], seen)


def key_path(parts: list[str] | tuple[str, ...]) -> str:
    """``["environments", "dev", "spark"]`` -> ``environments.dev.spark``; ``[0]`` steps
    attach to the key before them (``tasks[1].name``)."""
    text = ""
    for part in parts:
        text += part if part.startswith("[") or not text else f".{part}"
    return text


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
    problem = " ".join(filter(None, (exc.context, exc.problem)))
    return f"{where}: expected valid YAML, got {problem or exc}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
