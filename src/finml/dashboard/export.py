"""Build and write the metrics snapshot: every registered section, validated, then the site.

>>> index = export_site(config, tables)            # doctest: +SKIP
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from finml.dashboard.extract import ExportContext
from finml.dashboard.runner import run_sections
from finml.dashboard.schema import SCHEMA_VERSION, Snapshot, validate_snapshot
from finml.dashboard.site import build_site
from finml.log import get_logger

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("dashboard")


def build_snapshot(
    config: ProjectConfig, tables: DeltaTables, now: datetime | None = None
) -> Snapshot:
    """Read every section's tables (missing ones become empty states) into a validated
    :class:`Snapshot`.

    Raises:
        DataError: an extractor produced a document that does not match the schema.
    """
    from finml.registry import git_sha

    ctx = ExportContext(config, tables, now or datetime.now(UTC))
    sections = run_sections(ctx)
    document = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": ctx.now.isoformat(),
        "project": config.project,
        "env": config.env,
        "catalog": config.catalog,
        "schema": config.db_schema,
        "git_sha": git_sha(default="") or None,
        "sections": [s.model_dump(by_alias=True) for s in sections],
    }
    # Re-validate the assembled document as a whole (what the browser will read).
    return validate_snapshot(document)


def export_site(config: ProjectConfig, tables: DeltaTables, out_dir: Path) -> Path:
    """Build the snapshot and write the static site into ``out_dir``; returns index.html."""
    started = time.perf_counter()
    snapshot = build_snapshot(config, tables)
    index = build_site(snapshot, out_dir)
    log.info(
        "dashboard_exported",
        path=str(index),
        sections=len(snapshot.sections),
        empty=[s.id for s in snapshot.sections if s.status == "empty"],
        seconds=round(time.perf_counter() - started, 3),
    )
    return index
