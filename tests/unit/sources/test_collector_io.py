"""Atomic landing files, buffers flushed by size and age, and secret redaction."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from finml.sources.collector_io import (
    LineBuffer,
    RedactingFilter,
    install_log_redaction,
    landing_name,
    redact,
    write_atomic,
)

# The pattern bronze ingestion uses to read the symbol from a bar file's path.
INGEST_SYMBOL = r"(?:daily|intraday(?:_\w+?)?)_([A-Za-z0-9.\-]+)\.csv$"


def test_redact_masks_query_credentials_and_secret_values() -> None:
    key = SecretStr("s3cr3t-value")
    text = "GET wss://ws.finnhub.io/?token=abc123&x=1 http://h/q?apikey=K9&symbol=A s3cr3t-value"
    out = redact(text, [key, None, ""])
    assert out == "GET wss://ws.finnhub.io/?token=***&x=1 http://h/q?apikey=***&symbol=A ***"


def test_redacting_filter_masks_formatted_log_records(caplog) -> None:
    logger = logging.getLogger("finml.test.redaction")
    logger.addFilter(RedactingFilter(["hunter2"]))
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("request %s with %s", "http://x/?apikey=hunter2", "hunter2")
    assert caplog.text.count("***") == 2 and "hunter2" not in caplog.text


def test_write_atomic_leaves_no_temp_file_and_never_overwrites(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "bars" / "a.csv", "x\n")
    assert path.read_text() == "x\n" and [p.name for p in path.parent.iterdir()] == ["a.csv"]
    with pytest.raises(FileExistsError, match="expected a new name"):
        write_atomic(path, "y\n")
    assert path.read_text() == "x\n"


def test_landing_names_are_unique_sortable_and_readable_by_ingestion() -> None:
    names = [landing_name("av", "csv", "intraday_5min_BRK.B") for _ in range(50)]
    assert len(set(names)) == 50 and not any(n.startswith((".", "_")) for n in names)
    assert {re.search(INGEST_SYMBOL, n).group(1) for n in names} == {"BRK.B"}
    assert re.search(INGEST_SYMBOL, landing_name("av", "csv", "daily_AAPL")).group(1) == "AAPL"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buffer_is_due_by_size_or_by_age_and_forgets_only_after_writing(tmp_path: Path) -> None:
    clock = Clock()
    buffer = LineBuffer(tmp_path, "finnhub", max_count=5, max_age_s=2.0, clock=clock)
    assert buffer.seconds_to_due() == float("inf") and buffer.flush() is None
    buffer.add("a", 2)
    clock.now = 0.5
    assert buffer.seconds_to_due() == pytest.approx(1.5)
    buffer.add("b", 3)
    assert buffer.seconds_to_due() == 0.0  # 5 items: due by size
    first = buffer.flush()
    assert first.read_text() == "a\nb\n" and buffer.count == 0
    buffer.add("c")
    clock.now = 10.0
    assert buffer.seconds_to_due() == 0.0  # due by age
    (tmp_path / "blocker").mkdir()
    buffer.folder = tmp_path / "blocker" / "file-not-dir"
    (tmp_path / "blocker" / "file-not-dir").write_text("")
    with pytest.raises(OSError):
        buffer.flush()
    assert buffer.lines == ["c"]  # a failed write keeps the lines for the next attempt
    buffer.folder = tmp_path
    assert buffer.flush().read_text() == "c\n" and buffer.files[0] == first


def test_log_redaction_masks_every_installed_key_in_third_party_loggers(caplog) -> None:
    install_log_redaction([SecretStr("first-key-1"), None])
    install_log_redaction(["second-key-2"])  # a second collector in the same process
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        logging.getLogger("httpx").info("GET /q?a=first-key-1&b=%s", "second-key-2")
    assert "first-key-1" not in caplog.text and "second-key-2" not in caplog.text
    assert caplog.text.count("***") == 2
