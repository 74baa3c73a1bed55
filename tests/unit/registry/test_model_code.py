"""``model_code`` copies finml's source for a logged model also when finml was imported from
a zip -- a cluster's driver imports it from the wheel shipped with ``--py-files``. Run in a
child process, so this one keeps its own ``finml``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import finml

SOURCE = Path(finml.__file__).resolve().parent
CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import finml
from finml.registry.packaging import model_code
from pathlib import Path
with model_code() as (folder,):
    files = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
    text = (Path(folder) / "registry" / "packaging.py").read_text()
print(json.dumps({"origin": finml.__file__, "files": files, "text": text}))
"""


def test_model_code_copies_the_package_out_of_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "finml-0-py3-none-any.zip"
    sources = sorted(p for p in SOURCE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sources:
            zf.write(path, f"finml/{path.relative_to(SOURCE)}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(archive)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found["origin"] == f"{archive}/finml/__init__.py"
    assert found["files"] == sorted(
        str(p.relative_to(SOURCE)) for p in sources if p.suffix not in (".pyc", ".pyo")
    )
    assert found["text"] == (SOURCE / "registry" / "packaging.py").read_text()
