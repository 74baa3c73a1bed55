"""The dashboard export job: Delta tables + MLflow registry -> the static dashboard site.

Called by ``finml dashboard export``, the bundle task ``dashboard_export_job.export``
(``scripts/export_dashboard.py``) and at the end of ``finml demo``. No Spark needed: tables
are read through delta-rs as Arrow.

>>> print(export_dashboard(config))            # doctest: +SKIP
/home/me/.finml/dashboard/index.html
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables


def export_dashboard(
    config: ProjectConfig, tables: DeltaTables | None = None, out_dir: Path | None = None
) -> Path:
    """Export the validated metrics snapshot and the offline site; returns ``index.html``.

    ``tables`` defaults to a delta-rs engine on ``config``'s warehouse; ``out_dir`` defaults
    to the ``dashboard.output_dir`` setting, else ``<home>/dashboard``. Missing tables give
    empty sections, never an error.

    Raises:
        ConfigError: the ``dashboard`` config section is invalid.
        DataError: the exported snapshot does not match the schema (a bug in an extractor).
    """
    from finml.dashboard.export import export_site
    from finml.dashboard.settings import DashboardSettings
    from finml.runtime.delta import DeltaTables

    tables = tables or DeltaTables.from_config(config, None)
    target = out_dir or DashboardSettings.from_config(config).site_dir(config)
    return export_site(config, tables, Path(target)).resolve()
