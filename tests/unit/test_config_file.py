"""Reading project_config.yml strictly, and where it is looked for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from finml.config_file import (
    ConfigSearch,
    DuplicateKey,
    find_config_file,
    load_yaml,
    read_config_file,
)
from finml.errors import ConfigError


def test_pyyaml_alone_keeps_the_last_of_two_equal_keys_silently() -> None:
    # The defect the strict loader exists for: the first value vanishes without a word.
    assert yaml.safe_load("spark:\n  master: a\n  master: b\n") == {"spark": {"master": "b"}}
    with pytest.raises(DuplicateKey):
        load_yaml("spark:\n  master: a\n  master: b\n")


@pytest.mark.parametrize(
    ("text", "path", "line", "first"),
    [
        ("project: a\nproject: b\n", "project", 2, 1),
        ("a:\n  b:\n    c: 1\n    'c': 2\n", "a.b.c", 4, 3),  # quoting does not make a new key
        ("jobs:\n  - name: x\n  - name: y\n    tags: {t: 1, t: 2}\n", "jobs[1].tags.t", 4, 4),
    ],
)
def test_a_key_given_twice_at_any_depth_is_named_by_path_and_lines(
    text: str, path: str, line: int, first: int
) -> None:
    with pytest.raises(DuplicateKey) as info:
        load_yaml(text)
    assert (info.value.path, info.value.line, info.value.first_line) == (path, line, first)


def test_merge_keys_and_equal_keys_in_different_mappings_are_allowed() -> None:
    text = "base: &b {a: 1, b: 2}\nuse:\n  <<: *b\n  a: 3\nother: {a: 4}\n"
    assert load_yaml(text) == {"base": {"a": 1, "b": 2}, "use": {"a": 3, "b": 2}, "other": {"a": 4}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a mapping of settings, got an empty file"),
        ("# only a comment\n", "expected a mapping of settings, got an empty file"),
        ("- a\n- b\n", "expected a mapping at the top level, got list ['a', 'b']"),
        ("a: 1\n b: 2\n", "line 2, column 3: expected valid YAML"),
        ("a: [1, 2\n", "expected valid YAML"),
        ("x: 1\nx: 2\n", "line 2: key 'x' is given twice (first on line 1)"),
    ],
)
def test_bad_files_name_the_file_and_what_is_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    file = tmp_path / "c.yml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_config_file(file)
    assert str(info.value).startswith(f"config file {file}")
    assert expected in str(info.value)


def test_search_order_explicit_then_variable_then_nearest_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINML_CONFIG", raising=False)
    root, deep = tmp_path / "proj", tmp_path / "proj" / "scripts" / "sub"
    deep.mkdir(parents=True)
    (root / "project_config.yml").write_text("{}\n")
    assert find_config_file(None, deep) == root / "project_config.yml"
    other = tmp_path / "other.yml"
    other.write_text("{}\n")
    monkeypatch.setenv("FINML_CONFIG", str(other))
    assert find_config_file(None, deep) == other
    assert find_config_file(root / "project_config.yml", deep) == root / "project_config.yml"


def test_an_explicit_file_that_is_missing_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "project_config.yml").write_text("{}\n")  # would be found by the search
    with pytest.raises(ConfigError, match=r"nope\.yml \(given with --config\): expected an"):
        find_config_file(tmp_path / "nope.yml", tmp_path)
    monkeypatch.setenv("FINML_CONFIG", str(tmp_path / "gone.yml"))
    with pytest.raises(ConfigError, match=r"gone\.yml \(from \$FINML_CONFIG\): expected an"):
        find_config_file(None, tmp_path)


def test_nothing_found_reports_every_folder_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FINML_CONFIG", raising=False)
    if any((p / "project_config.yml").is_file() for p in tmp_path.parents):
        pytest.skip(f"a project_config.yml exists above {tmp_path}")
    found = find_config_file(None, tmp_path)
    assert isinstance(found, ConfigSearch)
    assert found.folders == (tmp_path, *tmp_path.parents)
    assert found.describe() == (
        f"--config not given, $FINML_CONFIG not set, "
        f"no project_config.yml in {tmp_path} or any parent folder up to /"
    )
