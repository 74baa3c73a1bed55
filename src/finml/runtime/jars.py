"""Where the Delta Lake jars of a local Spark session come from.

``make install`` fetches them with Maven into ``.jars/`` at the project root (``jvm/pom.xml``,
checked against ``jvm/jars.sha256``). A local session loads, in this order: the jars the
config names (``delta_jars`` / ``FINML_DELTA_JARS``), else ``.jars/`` next to the config file,
else ``.jars/`` of the checkout this package runs from. Databricks has Delta built in; a
machine without jars runs on delta-rs (and says why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from finml.errors import DeltaEngineError

if TYPE_CHECKING:
    from finml.config import ProjectConfig

JARS_FOLDER = ".jars"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <checkout>/src/finml/runtime/jars.py
_ARTIFACT = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[\w.]*)\.jar$")
REQUIRED = ("delta-spark", "delta-storage")


@dataclass(frozen=True)
class DeltaJars:
    """The jar files to load and where they were found."""

    paths: tuple[Path, ...]
    origin: str

    def versions(self) -> dict[str, str]:
        """Artifact name -> version, read from the file names."""
        found: dict[str, str] = {}
        for path in self.paths:
            match = _ARTIFACT.match(path.name)
            if match:
                found[match["artifact"]] = match["version"]
        return found

    def describe(self) -> str:
        """``delta-spark_4.2_2.13 4.4.0, delta-storage 4.4.0, ... (from <origin>)``."""
        versions = ", ".join(f"{a} {v}" for a, v in sorted(self.versions().items()))
        return f"{versions} (from {self.origin})"


def find_delta_jars(config: ProjectConfig) -> DeltaJars | None:
    """The Delta jars for ``config``'s local sessions, or None when there are none.

    Raises:
        DeltaEngineError: the config names jar files that do not exist, or a jar folder
            lacks delta-spark or delta-storage.
    """
    if config.delta_jars:
        missing = [jar for jar in config.delta_jars if not Path(jar).is_file()]
        if missing:
            raise DeltaEngineError(f"delta_jars: expected existing jar files, missing {missing}")
        paths = tuple(Path(jar).resolve() for jar in config.delta_jars)
        return _checked(DeltaJars(paths, "delta_jars / FINML_DELTA_JARS"))
    folders = []
    if config.source_file is not None:
        folders.append(config.source_file.parent / JARS_FOLDER)
    folders.append(_CHECKOUT / JARS_FOLDER)
    for folder in folders:
        jars = tuple(sorted(folder.glob("*.jar"))) if folder.is_dir() else ()
        if jars:
            return _checked(DeltaJars(tuple(p.resolve() for p in jars), str(folder)))
    return None


def _checked(jars: DeltaJars) -> DeltaJars:
    names = jars.versions()
    absent = [r for r in REQUIRED if not any(a.startswith(r) for a in names)]
    if absent:
        raise DeltaEngineError(
            f"Delta jars from {jars.origin}: expected {', '.join(REQUIRED)}, "
            f"missing {', '.join(absent)} (run `make jars`)"
        )
    return jars


def expected_engine(config: ProjectConfig) -> tuple[str, str]:
    """The Delta engine a session for ``config`` will use, and why, without starting Spark:
    what ``finml info`` shows (``--spark`` asks the JVM instead)."""
    if config.delta_engine == "delta-rs":
        return "delta-rs", "delta-rs requested (delta_engine)"
    if config.workspace == "databricks":
        return "delta-spark", "Databricks runtime (Delta built in)"
    try:
        jars = find_delta_jars(config)
    except DeltaEngineError as exc:
        return "delta-rs", str(exc)
    if jars is None:
        return "delta-rs", "no Delta jars found (run `make jars`; see .jars.log)"
    return "delta-spark", f"jars: {jars.describe()}"
