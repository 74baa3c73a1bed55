"""The static dashboard: a validated metrics snapshot exported from Delta and MLflow, and an
offline HTML site that renders it (see ``docs/dashboard.md``).

Add a section with one registered function::

    @section("my_section", "My section", order=90, hint="finml something")
    def my_section(ctx: ExportContext) -> Section: ...
"""

from finml.dashboard.export import build_snapshot, export_site
from finml.dashboard.extract import ExportContext, empty, missing, section
from finml.dashboard.runner import sections
from finml.dashboard.schema import SCHEMA_VERSION, Snapshot, validate_snapshot
from finml.dashboard.settings import DashboardSettings

__all__ = [
    "SCHEMA_VERSION",
    "DashboardSettings",
    "ExportContext",
    "Snapshot",
    "build_snapshot",
    "empty",
    "export_site",
    "missing",
    "section",
    "sections",
    "validate_snapshot",
]
