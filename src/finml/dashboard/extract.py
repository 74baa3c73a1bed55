"""Section extractors: one registered function per dashboard section.

>>> @section("alerts", "Alerts", order=50)                       # doctest: +SKIP
... def alerts(ctx: ExportContext) -> Section: ...

An extractor reads tables through :class:`ExportContext` (delta-rs, Arrow, no Spark) and
returns a :class:`Section`; a missing table becomes an explicit empty state via
:func:`empty`, and an extractor that fails is turned into an empty state with the error by
:func:`finml.dashboard.runner.run_sections`, so the export never fails because one table is
absent or odd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from finml.dashboard.schema import Section, Series, Source
from finml.errors import TableNotFound
from finml.log import get_logger

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("dashboard")

Extractor = Callable[["ExportContext"], Section]
# Charts keep the newest points only, so the snapshot (and the page) stays small however
# long the tables grow; the tables' full history stays in Delta.
MAX_POINTS = 240


@dataclass(frozen=True)
class SectionSpec:
    id: str
    title: str
    order: int
    hint: str
    fn: Extractor


_SECTIONS: dict[str, SectionSpec] = {}


def section(id: str, title: str, *, order: int, hint: str = "") -> Callable[[Extractor], Extractor]:
    """Register ``fn(ctx) -> Section`` as dashboard section ``id`` (shown by ``order``);
    ``hint`` is the command that fills its tables, shown in its empty state."""

    def decorate(fn: Extractor) -> Extractor:
        _SECTIONS[id] = SectionSpec(id, title, order, hint, fn)
        return fn

    return decorate


def registered_sections() -> list[SectionSpec]:
    """The sections registered so far, in display order (``runner.sections`` imports the
    built-in ones first)."""
    return sorted(_SECTIONS.values(), key=lambda s: s.order)


@dataclass
class ExportContext:
    """What extractors read: tables (cached Arrow -> pandas), config and the export time."""

    config: ProjectConfig
    tables: DeltaTables
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _frames: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)
    _sources: dict[str, Source] = field(default_factory=dict, repr=False)
    _models: dict[str, list[Any] | None] = field(default_factory=dict, repr=False)

    def frame(self, name: str) -> pd.DataFrame | None:
        """Table ``name`` as pandas, or None when it does not exist."""
        if name not in self._frames:
            table = self.tables.table(name)
            if not table.exists():
                self._frames[name] = None
                self._sources[name] = Source(
                    name=name, exists=False, rows=None, **self._provenance(name)
                )
            else:
                frame = table.to_arrow().to_pandas()  # plain Arrow types, either engine
                self._frames[name] = frame
                self._sources[name] = Source(
                    name=name,
                    exists=True,
                    rows=len(frame),
                    version=table.version(),
                    **self._provenance(name),
                )
        return self._frames[name]

    def _provenance(self, name: str) -> dict[str, Any]:
        """A medallion table's contract, as the source chip shows it (nothing otherwise)."""
        from finml.pipelines import contracts

        contract = contracts.find(name)
        if contract is None:
            return {}
        return {
            "table": str(contract.qualified(self.config.catalog, self.config.db_schema)),
            "comment": contract.comment,
            "keys": list(contract.keys),
            "rules": [f"{r.name} ({r.action})" for r in contracts.deciding_rules(contract)],
        }

    def require(self, name: str) -> pd.DataFrame:
        """Table ``name`` as pandas (call after :func:`missing` said it has rows).

        Raises:
            TableNotFound: the table does not exist.
        """
        frame = self.frame(name)
        if frame is None:
            raise TableNotFound(f"table {name}: expected it to exist for the dashboard")
        return frame

    def source(self, name: str) -> Source:
        self.frame(name)
        return self._sources[name]

    def model_versions(self, short: str) -> list[Any] | None:
        """Registered versions (``finml.registry.VersionInfo``, newest first) of model
        ``short``, or None when there is no local MLflow store (so none is created)."""
        if short not in self._models:
            config = self.config
            local_db = config.home / "mlflow.db"
            if (
                config.workspace == "local"
                and not config.mlflow_tracking_uri
                and not (local_db.exists())
            ):
                self._models[short] = None
            else:
                from finml import registry

                self._models[short] = registry.versions(config, registry.model_name(config, short))
        return self._models[short]


def empty(spec_id: str, title: str, reason: str, hint: str = "", sources=()) -> Section:
    """The explicit empty state of a section."""
    return Section(
        id=spec_id,
        title=title,
        status="empty",
        empty_reason=reason,
        hint=hint or None,
        sources=list(sources),
    )


def spec(section_id: str) -> SectionSpec:
    """The registered section ``section_id``."""
    return _SECTIONS[section_id]


def missing(ctx: ExportContext, section_id: str, *names: str) -> Section | None:
    """The empty state when every table of ``names`` is missing or empty, else None."""
    found = spec(section_id)
    frames = [ctx.frame(n) for n in names]
    if any(f is not None and len(f) for f in frames):
        return None
    shown = ", ".join(f"`{n}`" for n in names)
    absent = all(f is None for f in frames)
    reason = f"No data yet: table {shown} {'does not exist' if absent else 'has no rows'}."
    if len(names) > 1:
        reason = f"No data yet: none of {shown} {'exists' if absent else 'has rows'}."
    return empty(found.id, found.title, reason, found.hint, [ctx.source(n) for n in names])


# ---- JSON-safe conversions ------------------------------------------------------------


def scalar(value: Any) -> str | float | int | bool | None:
    """A JSON-safe cell: ISO strings for times, None for NaN/NaT/inf, rounded floats."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return str(value)


def newest(frame: pd.DataFrame, by: str, n: int = MAX_POINTS) -> pd.DataFrame:
    """Rows whose ``by`` value is among the ``n`` newest distinct values (sorted by ``by``)."""
    keep = sorted(frame[by].dropna().unique())[-n:]  # works for dates held as objects too
    return frame[frame[by].isin(keep)].sort_values(by, kind="stable")


def window_end(frame: pd.DataFrame, bound: str = "end") -> pd.Series:
    """The ``end`` (or ``bound``) of the ``window`` struct column (Lakehouse Monitoring
    layout) as UTC times."""
    ends = [w.get(bound) if isinstance(w, dict) else None for w in frame["window"]]
    return pd.Series(pd.to_datetime(ends, utc=True), index=frame.index)


def utc_day(values: pd.Series) -> pd.Series:
    """Times as their UTC day, ``YYYY-MM-DD`` (the loop's daily window)."""
    return pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%d")


def column(frame: pd.DataFrame, name: str) -> list[Any]:
    return [scalar(v) for v in frame[name].tolist()]


def series_by(
    frame: pd.DataFrame, by: str, x: str, y: str, label: Callable[[Any], str] = str
) -> list[Series]:
    """One chart series per ``by`` group (sorted): ``x`` against ``y``, named ``label(key)``."""
    return [
        Series(name=label(key), x=column(g, x), y=floats(g[y].tolist()))
        for key, g in frame.groupby(by, sort=True)
    ]


def rows(frame: pd.DataFrame, columns: list[str], limit: int = 200) -> list[list[Any]]:
    """Cells of ``columns`` (missing columns are null) for the first ``limit`` rows."""
    head = frame.head(limit)
    cols = [head[c].tolist() if c in head else [None] * len(head) for c in columns]
    return [[scalar(v) for v in cells] for cells in zip(*cols, strict=True)] if cols else []


def floats(values: list[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        s = scalar(v)
        out.append(float(s) if isinstance(s, int | float) and not isinstance(s, bool) else None)
    return out


# ---- what a section shows -------------------------------------------------------------


def coverage(name: str, frame: pd.DataFrame | None, times: Any = None, what: str = "rows") -> str:
    """One line saying what a section shows of table ``name``: its rows and the UTC span of
    ``times`` (a column name of ``frame`` or a Series), e.g.
    ``alerts: 4 rows, 2026-03-01 10:00 → 2026-03-02 04:00 UTC``."""
    if frame is None:
        return f"{name}: table does not exist"
    if not len(frame):
        return f"{name}: no {what}"
    text = f"{name}: {len(frame):,} {what}"
    if times is not None:
        stamps = pd.to_datetime(frame[times] if isinstance(times, str) else times, utc=True)
        stamps = stamps.dropna()
        if len(stamps):
            text += f", {_minute(stamps.min())} → {_minute(stamps.max())} UTC"
    return text


def _minute(at: pd.Timestamp) -> str:
    return at.strftime("%Y-%m-%d") if at == at.normalize() else at.strftime("%Y-%m-%d %H:%M")
