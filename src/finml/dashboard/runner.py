"""Every registered dashboard section, in order, and running them for one export.

The section modules import :mod:`finml.dashboard.extract` (``@section``, the helpers), so
the lookup that has to import them lives here, above them.
"""

from __future__ import annotations

from finml.dashboard.extract import ExportContext, SectionSpec, empty, log, registered_sections
from finml.dashboard.schema import Section


def sections() -> list[SectionSpec]:
    """Registered sections in display order (importing the extractor modules first)."""
    import finml.dashboard.sections  # noqa: F401  (registers the built-in sections)

    return registered_sections()


def run_sections(ctx: ExportContext) -> list[Section]:
    """Every registered section; an extractor error becomes that section's empty state."""
    out = []
    for found in sections():
        try:
            out.append(found.fn(ctx))
        except Exception as exc:  # one bad table must not sink the whole dashboard
            log.warning("dashboard_section_failed", section=found.id, error=repr(exc))
            reason = f"Could not extract this section: {type(exc).__name__}: {exc}"
            out.append(empty(found.id, found.title, reason[:500], found.hint))
    return out
