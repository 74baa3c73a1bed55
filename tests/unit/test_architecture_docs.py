"""docs/architecture.md's layer list says what the import-linter layers contract enforces.

The "Dependencies" section holds a fenced ``text`` block, one contract layer per line, top to
bottom: ``|`` separates independent siblings, ``,`` siblings that may import each other (the
contract's ``:``). A line starting with ``|``, or following one that ends in ``,`` or ``|``,
continues its layer. The first column names the group (``domain``, ``platform``, ...), in
the order the contract's name gives them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Dependencies"

Layer = tuple[str, tuple[str, ...]]  # ("|" independent or ":" not, its modules)


def contract() -> dict:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layered = [c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert len(layered) == 1, f"expected one layers contract, got {len(layered)}"
    return layered[0]


def contract_layer(text: str) -> Layer:
    if "|" in text and ":" in text:
        raise AssertionError(f"a contract layer mixes '|' and ':': {text!r}")
    separator = "|" if "|" in text else ":"
    return separator, tuple(m.strip() for m in text.split(separator))


def doc_block(markdown: str) -> list[str]:
    """The lines of the first ``text`` block of the Dependencies section, header dropped."""
    section = markdown.split(SECTION, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```text\n(.*?)```", section, re.S)
    assert match, f"docs/architecture.md: expected a ```text block under {SECTION!r}"
    lines = [line.rstrip() for line in match.group(1).splitlines() if line.strip()]
    assert lines[0].startswith("layer"), f"expected a 'layer ...' header, got {lines[0]!r}"
    return lines[1:]


def doc_layers(lines: list[str]) -> tuple[list[str], list[Layer]]:
    """The group labels (in order) and the layers of the diagram's lines."""
    labels: list[str] = []
    texts: list[str] = []
    for line in lines:
        label, _, rest = line.partition("  ")
        rest = rest.strip()
        continues = bool(texts) and (rest.startswith("|") or texts[-1].endswith((",", "|")))
        if label:
            assert not continues, f"a labelled line cannot continue a layer: {line!r}"
            labels.append(label)
        if continues:
            texts[-1] = f"{texts[-1]} {rest}"
        else:
            texts.append(rest)
    return labels, [contract_layer(text.replace(",", ":")) for text in texts]


def test_doc_layers_are_the_contract_layers_in_order() -> None:
    expected = [contract_layer(layer) for layer in contract()["layers"]]
    markdown = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    _, documented = doc_layers(doc_block(markdown))
    assert [modules for _, modules in documented] == [modules for _, modules in expected]
    # a layer of one module has no siblings: its separator says nothing
    kinds = [(kind if len(modules) > 1 else "") for kind, modules in documented]
    assert kinds == [(kind if len(modules) > 1 else "") for kind, modules in expected]


def test_doc_groups_are_the_groups_the_contract_is_named_by() -> None:
    name = contract()["name"]
    assert name.startswith("Layers: "), f"expected 'Layers: a -> b -> ...', got {name!r}"
    markdown = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    labels, _ = doc_layers(doc_block(markdown))
    assert labels == name.removeprefix("Layers: ").split(" -> ")


def test_the_parser_reads_continuations_and_both_separators() -> None:
    lines = [
        "top            finml.a",
        "middle         finml.b | finml.c",
        "               | finml.d",
        "bottom         finml.e, finml.f,",
        "               finml.g",
        "               finml.h",
    ]
    labels, layers = doc_layers(lines)
    assert labels == ["top", "middle", "bottom"]
    assert layers == [
        (":", ("finml.a",)),
        ("|", ("finml.b", "finml.c", "finml.d")),
        (":", ("finml.e", "finml.f", "finml.g")),
        (":", ("finml.h",)),
    ]
