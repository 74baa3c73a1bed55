"""What the collectors share: atomic landing files, unique file names and secret redaction.

Landing files appear atomically: the bytes go to a hidden temp file in the same folder
(``.name.tmp`` — Spark's file source skips names starting with ``.``), are fsynced, then
renamed. A reader sees the whole file or nothing, and a file once renamed is never rewritten.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

MASK = "***"
# Query parameters that carry credentials in the sources' URLs (Finnhub token, AV apikey).
_SECRET_PARAMS = re.compile(r"(?i)\b(token|apikey|api_key)=([^&\s'\"#]+)")
_THIRD_PARTY_LOGGERS = ("httpx", "httpcore", "websockets", "websockets.client")


def redact(text: object, secrets: Iterable[SecretStr | str | None] = ()) -> str:
    """``text`` with every secret value and every ``token=``/``apikey=`` value masked."""
    out = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={MASK}", str(text))
    for item in secrets:
        value = item.get_secret_value() if isinstance(item, SecretStr) else item
        if value:
            out = out.replace(value, MASK)
    return out


class RedactingFilter(logging.Filter):
    """A stdlib logging filter that masks secrets in a record's message (httpx logs URLs)."""

    def __init__(self, secrets: Iterable[SecretStr | str | None] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(secrets: Iterable[SecretStr | str | None]) -> RedactingFilter:
    """Mask ``secrets`` (added to those already masked) in what httpx, httpcore and
    websockets log — they log request URLs, which carry the API keys."""
    _FILTER.secrets.extend(s for s in secrets if s and s not in _FILTER.secrets)
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER


def landing_name(prefix: str, suffix: str, tail: str = "", now: datetime | None = None) -> str:
    """A unique, time-sortable file name: ``<prefix>_<UTC time>_<8 hex>[_<tail>].<suffix>``.

    ``tail`` carries what ingestion reads from the name (``daily_AAPL`` -> symbol AAPL).
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    end = f"_{tail}" if tail else ""
    return f"{prefix}_{stamp}_{uuid.uuid4().hex[:8]}{end}.{suffix}"


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a hidden temp file and a rename; returns ``path``.

    Raises:
        FileExistsError: ``path`` exists already (landing files are never rewritten).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise FileExistsError(f"landing file {path}: expected a new name, found an existing file")
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class LineBuffer:
    """JSON lines waiting to be landed; flushed as one new file by size or by age.

    ``count`` is what the size limit measures (trades for trade messages, lines for
    rejects). A flush writes the lines to a new file and only then forgets them, so a failed
    write keeps them for the next attempt and a written file is never written again.
    """

    def __init__(
        self,
        folder: Path,
        prefix: str,
        max_count: int,
        max_age_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.folder, self.prefix = folder, prefix
        self.max_count, self.max_age_s, self.clock = max_count, max_age_s, clock
        self.lines: list[str] = []
        self.count = 0
        self.since: float | None = None
        self.files: list[Path] = []

    def add(self, line: str, count: int = 1) -> None:
        if self.since is None:
            self.since = self.clock()
        self.lines.append(line)
        self.count += count

    def seconds_to_due(self) -> float:
        """Seconds until an age flush is due (inf when empty, 0 when due now)."""
        if self.since is None:
            return float("inf")
        if self.count >= self.max_count:
            return 0.0
        return max(0.0, self.since + self.max_age_s - self.clock())

    def flush(self) -> Path | None:
        """Land the buffered lines in a new file; returns it (None when empty)."""
        if not self.lines:
            return None
        path = write_atomic(
            self.folder / landing_name(self.prefix, "jsonl"), "".join(f"{x}\n" for x in self.lines)
        )
        self.lines, self.count, self.since = [], 0, None
        self.files.append(path)
        return path
