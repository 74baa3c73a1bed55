"""Build the static site: HTML/JS/CSS from the package, plotly.js from the ``plotly`` package,
and the snapshot as ``snapshot.js`` (a script, because ``fetch()`` of a local JSON fails on
``file://``) plus ``snapshot.json`` for machines.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from finml.dashboard.schema import Snapshot

ASSETS = ("index.html", "app.js", "style.css")
PLOTLY_FILE = Path("vendor") / "plotly.min.js"


def build_site(snapshot: Snapshot, out_dir: Path) -> Path:
    """Write the site for ``snapshot`` into ``out_dir``; returns the ``index.html`` path.

    Files are replaced atomically, so a browser or ``finml dashboard serve`` never sees a
    half-written snapshot.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    static = resources.files("finml.dashboard") / "static"
    for name in ASSETS:
        _write(out_dir / name, (static / name).read_text(encoding="utf-8"))
    _vendor_plotly(out_dir / PLOTLY_FILE)
    payload = snapshot.to_json()
    _write(out_dir / "snapshot.json", payload)
    # "</" inside a string would end the <script> element early when inlined; escape it.
    script = "window.FINML_SNAPSHOT = " + payload.replace("</", "<\\/") + ";\n"
    _write(out_dir / "snapshot.js", script)
    return out_dir / "index.html"


def _vendor_plotly(target: Path) -> None:
    """Copy plotly.min.js from the installed ``plotly`` package (once per plotly version)."""
    import plotly
    from plotly.offline import get_plotlyjs

    marker = target.with_suffix(".version")
    if target.exists() and marker.exists() and marker.read_text() == plotly.__version__:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, get_plotlyjs())
    _write(marker, plotly.__version__)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
