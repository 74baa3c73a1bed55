"""The bundle's task scripts (``scripts/*.py``) import FinML directly: every name they import
exists in this build, so a renamed job function fails here, not in a scheduled run."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_every_finml_name_a_script_imports_exists() -> None:
    missing, found = [], 0
    for script in sorted(SCRIPTS.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("finml"):
                module = importlib.import_module(str(node.module))
                for alias in node.names:
                    found += 1
                    if not hasattr(module, alias.name):
                        missing.append(f"{script.name}: {node.module}.{alias.name}")
    assert found > 40 and missing == []


def test_no_script_imports_by_string() -> None:
    by_string = [p.name for p in SCRIPTS.glob("*.py") if "library(" in p.read_text()]
    assert by_string == []
