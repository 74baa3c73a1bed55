"""Every relative link of README.md and docs/*.md reaches a file of this repository (and a
heading of it, for ``#anchor`` links), and every source path a page names in backticks
exists: moving or renaming a file breaks this test, not the reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# backticked paths into folders whose files are sources (benchmarks/out/ is generated)
SOURCE_PATH = re.compile(r"`((?:src|tests|docs|scripts|resources|sql|jvm)/[\w./-]+)`")
# backticked pages relative to the page (`../x.md`): the reader follows them like links
RELATIVE_PATH = re.compile(r"`(\.\./[^`\s*]+\.md)`")
# `docs/<page>.md#anchor` named in pyproject.toml's comments
PYPROJECT_REF = re.compile(r"(docs/[\w-]+\.md)#([\w-]+)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def check(source: Path, target: str) -> str | None:
    """None when ``target`` (relative to ``source``) resolves inside the repo, else why not."""
    path, _, anchor = target.partition("#")
    resolved = (source.parent / path).resolve() if path else source
    if not resolved.is_relative_to(REPO):
        return f"{target}: expected a file of the repository, got {resolved}"
    if not resolved.exists():
        return f"{target}: expected an existing file, got no {resolved.relative_to(REPO)}"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{target}: expected a heading #{anchor} in {resolved.relative_to(REPO)}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_reach_files_and_headings(page: Path) -> None:
    broken = [why for target in relative_links(page) if (why := check(page, target))]
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_named_source_paths_exist(page: Path) -> None:
    named = SOURCE_PATH.findall(page.read_text(encoding="utf-8"))
    missing = sorted({p for p in named if not (REPO / p.rstrip(".")).exists()})
    assert not missing, f"{page.relative_to(REPO)} names missing paths: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_named_relative_paths_stay_in_the_repository(page: Path) -> None:
    named = RELATIVE_PATH.findall(page.read_text(encoding="utf-8"))
    broken = [why for target in named if (why := check(page, target))]
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_pyproject_doc_references_reach_headings() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    refs = PYPROJECT_REF.findall(text)
    assert refs, "expected pyproject.toml to reference docs/architecture.md sections"
    broken = [why for page, anchor in refs if (why := check(REPO / "x", f"{page}#{anchor}"))]
    assert not broken, "; ".join(broken)


def test_slug_and_check_catch_what_they_should() -> None:
    assert slug("The loop (`finml replay`)") == "the-loop-finml-replay"
    assert slug("Replay A/B: promotion through evidence") == "replay-ab-promotion-through-evidence"
    readme = REPO / "README.md"
    assert check(readme, "docs/architecture.md#dependencies") is None
    assert "expected a heading" in str(check(readme, "docs/architecture.md#no-such-heading"))
    assert "expected a file of the repository" in str(check(readme, "../shared/ARCHITECTURE.md"))
    assert "expected an existing file" in str(check(readme, "docs/missing.md"))
