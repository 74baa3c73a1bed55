"""Spark and JVM failures in one line: the root Java cause and the table it happened on.

A failed Spark read or write reaches Python as a ``Py4JJavaError`` (or a ``pyspark.errors``
exception converted from one) whose text is the whole Java stack trace, hundreds of lines,
with what actually went wrong ("No space left on device", "not a Parquet file") at the
bottom of the cause chain. :func:`summarise` walks that chain to its root cause and names the
table (or file) involved; :func:`full_trace` keeps everything, for the log and ``--verbose``.

Used at the process boundaries only: ``finml.cli.main`` and the job entry points
(:func:`finml.jobs.entry.run_task`). Library code lets these exceptions propagate.
"""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.errors import PySparkException

_MAX_CAUSES = 32  # a Java cause chain is short; this only guards against a cycle
_MAX_LENGTH = 1000
_CONDITION = re.compile(r"^\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]")
_FILE = re.compile(r"file:(/[^\s'\"`,;]+)")
# A Java exception line inside text (a Python traceback a Spark callback raised, which
# reaches the JVM only as text): ``Caused by: java.io.IOException: message``.
_EMBEDDED = re.compile(
    r"^(?:Caused by: |: )?((?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)): (.+)$"
)
_PYTHON_PROXY = "py4j.Py4JException"
_GATEWAY_EXITED = "JAVA_GATEWAY_EXITED"
_DELTA_LOG = "_delta_log"


@dataclass(frozen=True)
class JavaCause:
    """One link of a Java cause chain: the exception class and its message."""

    cls: str
    message: str

    @property
    def text(self) -> str:
        """``java.io.IOException: No space left on device``, on one line."""
        return f"{self.cls}: {_essence(self.message)}" if self.message else self.cls


def spark_failure(exc: BaseException) -> BaseException | None:
    """``exc`` or the first exception it was raised from that is a Py4J error (the JVM failed
    or is gone) or a ``pyspark.errors`` exception; None when there is none (and always when
    pyspark was never imported, so this costs nothing for other failures)."""
    if "pyspark" not in sys.modules:
        return None
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < _MAX_CAUSES:
        if isinstance(current, Py4JError | PySparkException):
            return current
        current, seen = current.__cause__, seen + 1
    return None


def summarise(exc: BaseException) -> str:
    """One line for Spark/JVM failure ``exc``: ``Spark failed [CONDITION] on table
    c.s.t: <root Java cause>``; the file when no table folder is found; for a JVM that
    could not start, that (the launcher's own message is printed above it)."""
    from pyspark.errors import PySparkException

    if isinstance(exc, PySparkException) and _condition_of(exc) == _GATEWAY_EXITED:
        return (
            f"Spark could not start: {_essence(_text(exc))} (check JAVA_HOME, the Java "
            "version and spark.driver.memory; the Java launcher's message is above)"
        )
    chain = java_causes(exc)
    if not chain:
        return _clip(f"Spark failed: {type(exc).__name__}: {_essence(_text(exc))}")
    root = next((c for c in reversed(chain) if c.message), chain[-1])
    # The innermost error condition is the most specific (FAILED_READ_FILE, not the
    # STAGE_MATERIALIZATION_MULTIPLE_FAILURES wrapped around it).
    conditions = [m.group(1) for c in chain if (m := _CONDITION.match(c.message))]
    condition = conditions[-1] if conditions else None
    path = next((_path(m.group(1)) for c in chain if (m := _FILE.search(c.message))), None)
    table = table_of(Path(path)) if path else None
    parts = ["Spark failed"]
    if condition and not root.message.startswith(f"[{condition}]"):
        parts.append(f"[{condition}]")
    if table:
        parts.append(f"on table {table}")
    elif path and path not in root.message:
        parts.append(f"on {path}")
    return _clip(f"{' '.join(parts)}: {root.text}")


def java_causes(exc: BaseException) -> list[JavaCause]:
    """The Java cause chain of ``exc``, outermost first (empty when it carries no Java
    exception); where a link has no cause but suppressed exceptions (Spark's "multiple
    failures"), the chain goes on with the first of those. Read from the live JVM; if the
    JVM is gone, what was read so far."""
    throwable = getattr(exc, "java_exception", None)  # Py4JJavaError
    if throwable is None:
        throwable = getattr(exc, "_origin", None)  # pyspark's CapturedException keeps it here
    chain: list[JavaCause] = []
    while throwable is not None and len(chain) < _MAX_CAUSES:
        try:
            chain.append(JavaCause(throwable.getClass().getName(), throwable.getMessage() or ""))
            throwable = throwable.getCause() or _first_suppressed(throwable)
        except Exception:  # the JVM died mid-walk: keep the links already read
            break
    if chain and chain[-1].cls == _PYTHON_PROXY:  # e.g. a foreachBatch function that failed
        chain += _embedded_causes(chain[-1].message)
    return chain


def _embedded_causes(text: str) -> list[JavaCause]:
    """The Java exceptions named in ``text`` (a Python traceback of a Spark callback, which
    carries its own Java failure only as text), outermost first."""
    found = []
    for line in text.splitlines():
        match = _EMBEDDED.match(line.strip())
        if match and not match.group(1).startswith(("py4j.", "pyspark.")):
            found.append(JavaCause(match.group(1), match.group(2)))
    return found[:_MAX_CAUSES]


def _first_suppressed(throwable: Any) -> Any:
    suppressed = throwable.getSuppressed()
    return suppressed[0] if suppressed is not None and len(suppressed) else None


def full_trace(exc: BaseException) -> str:
    """The Python traceback of ``exc`` with the whole Java stack trace (for the log)."""
    text = "".join(traceback.format_exception(exc))
    java = getattr(exc, "_stackTrace", None)  # CapturedException: str() omits the JVM trace
    if isinstance(java, str) and java and java not in text:
        text += f"\nJVM stack trace:\n{java}"
    return text


def table_of(path: Path) -> str | None:
    """``catalog.schema.table`` of the Delta table folder holding ``path`` (a folder with a
    ``_delta_log``, or the owner of a ``_finml_staging`` write), laid out as
    ``<warehouse>/<catalog>/<schema>/<table>``; None outside a table."""
    from finml.runtime.delta.files import STAGING_DIR

    for folder in (path, *path.parents):
        if folder.name == STAGING_DIR:
            return _three_part(folder.parent)
        if (folder / _DELTA_LOG).is_dir():
            return _three_part(folder)
    return None


def _three_part(folder: Path) -> str | None:
    names = (folder.parent.parent.name, folder.parent.name, folder.name)
    return ".".join(names) if all(names) else None


def _path(found: str) -> str:
    """``///tmp/t/p.parquet.`` (a URI's path, ending a sentence) -> ``/tmp/t/p.parquet``."""
    return str(Path(found.rstrip(".")))


def _text(exc: BaseException) -> str:
    """``str(exc)``, which for a Py4JJavaError asks the JVM; its own message if that fails."""
    try:
        return str(exc)
    except Exception:  # the JVM is gone
        return str(getattr(exc, "errmsg", "") or type(exc).__name__)


def _condition_of(exc: PySparkException) -> str | None:
    try:
        return exc.getCondition()
    except Exception:  # a captured exception asks the JVM, which may be gone
        return None


def _essence(message: str) -> str:
    """The informative line of ``message``: the last line of a Python traceback (a failed
    Python worker), else the first line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return lines[-1]
    return lines[0]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LENGTH else text[: _MAX_LENGTH - 3] + "..."
