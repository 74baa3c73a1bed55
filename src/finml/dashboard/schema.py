"""The metrics snapshot: one versioned JSON document the static dashboard renders.

Every block is a pydantic v2 model with ``extra="forbid"``, so an exporter that drifts from
the documented shape (``docs/dashboard.md``) fails at export time, not in the browser.
Values are JSON-safe: timestamps are ISO-8601 strings, missing or non-finite numbers are null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from finml.errors import DataError
from finml.settings_base import StrictModel, describe

SCHEMA_VERSION = "1.0"
_ID = r"^[a-z][a-z0-9_]*$"

Scalar = str | float | int | bool | None
Status = Literal["ok", "warn", "bad", "info"]


class Source(StrictModel):
    """A Delta table (or the MLflow registry) a section read, and what was found; for a
    medallion table also its contract (:mod:`finml.pipelines.contracts`): three-part name,
    comment, keys and the rules that decide its rows."""

    name: str
    exists: bool
    rows: int | None = Field(None, ge=0)
    version: int | None = None
    table: str | None = None
    comment: str | None = None
    keys: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)


class Kpi(StrictModel):
    """One headline number or word, coloured by ``status``."""

    label: str
    value: Scalar
    unit: str | None = None
    status: Status = "info"
    detail: list[str] = Field(default_factory=list)  # why this status (e.g. failed checks)


class Series(StrictModel):
    """One trace of a line/bar/step chart; ``x``, ``y`` and ``text`` (hover text, e.g. a
    decision's reason) have the same length."""

    name: str
    x: list[Scalar]
    y: list[float | None]
    text: list[str | None] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Series:
        if len(self.x) != len(self.y):
            raise ValueError(f"series {self.name}: expected len(x) == len(y), got {len(self.x)}")
        if self.text is not None and len(self.text) != len(self.x):
            raise ValueError(f"series {self.name}: expected len(text) == len(x)")
        return self


class Event(StrictModel):
    """A moment marked on a chart's x axis (a vertical line with ``label``), coloured by
    ``kind``: a promotion, a manual promotion, a rollback or a retraining trigger."""

    x: Scalar
    label: str
    kind: Literal["promotion", "manual_promotion", "rollback", "retrain"]


class ChartFilter(StrictModel):
    """What of a chart the page's date-range and symbol filters apply to: ``x_dates``, its
    x values are dates or times; ``series_symbols``, its series are named by symbol."""

    x_dates: bool = False
    series_symbols: bool = False


class TableFilter(StrictModel):
    """The columns of a table the page's filters apply to: ``date`` holds a date or time
    (ISO), ``symbol`` a symbol."""

    date: str | None = None
    symbol: str | None = None


class Chart(StrictModel):
    """A chart; ``heatmap`` uses ``z`` (rows of ``y_labels`` by columns of ``x_labels``), the
    other kinds use ``series``. ``y_labels`` on a ``step`` chart names integer levels;
    ``events`` (not on heatmaps) are marked as vertical lines.

    Axes: ``x_axis`` "day" is a date axis ticked per day (bars one day wide), "category"
    labels each x as given; ``y_range`` pins the value axis (``[0, 1]`` for probabilities);
    ``value_scale`` "log" for counts spanning decades; ``horizontal`` bars put the values
    on the x axis and the labels on the y axis; ``x_range`` pins a numeric x axis and
    ``z_range`` a heatmap's colour scale (diverging when it spans 0, e.g. correlations);
    ``filter`` says what the page's filters apply to."""

    id: str = Field(pattern=_ID)
    title: str
    kind: Literal["line", "bar", "stacked_bar", "step", "heatmap"]
    series: list[Series] = Field(default_factory=list)
    z: list[list[float | None]] | None = None
    x_labels: list[str] | None = None
    y_labels: list[str] | None = None
    x_title: str | None = None
    y_title: str | None = None
    events: list[Event] = Field(default_factory=list)
    x_axis: Literal["auto", "day", "category"] = "auto"
    y_range: list[float] | None = Field(None, min_length=2, max_length=2)
    value_scale: Literal["linear", "log"] = "linear"
    horizontal: bool = False
    x_range: list[float] | None = Field(None, min_length=2, max_length=2)
    z_range: list[float] | None = Field(None, min_length=2, max_length=2)
    filter: ChartFilter | None = None

    @model_validator(mode="after")
    def _has_data(self) -> Chart:
        if self.kind == "heatmap":
            if not self.z or not self.x_labels or not self.y_labels:
                raise ValueError(f"chart {self.id}: expected z, x_labels and y_labels")
            if len(self.z) != len(self.y_labels) or any(
                len(r) != len(self.x_labels) for r in self.z
            ):
                raise ValueError(f"chart {self.id}: expected z of y_labels x x_labels")
        elif not self.series:
            raise ValueError(f"chart {self.id}: expected at least one series, got none")
        return self


class TableBlock(StrictModel):
    """A table; every row has one cell per column; ``filter`` names its columns the page's
    filters apply to."""

    id: str = Field(pattern=_ID)
    title: str
    columns: list[str]
    rows: list[list[Scalar]]
    filter: TableFilter | None = None

    @model_validator(mode="after")
    def _rectangular(self) -> TableBlock:
        if self.filter is not None:
            for name in (self.filter.date, self.filter.symbol):
                if name is not None and name not in self.columns:
                    raise ValueError(f"table {self.id} filter: expected a column, got {name!r}")
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.id} row {i}: expected {len(self.columns)} cells, got {len(row)}"
                )
        return self


class Section(StrictModel):
    """One dashboard section: ``ok`` with content, or ``empty`` with a reason and a hint."""

    id: str = Field(pattern=_ID)
    title: str
    status: Literal["ok", "empty"]
    empty_reason: str | None = None
    hint: str | None = None
    sources: list[Source] = Field(default_factory=list)
    kpis: list[Kpi] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    tables: list[TableBlock] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    covers: list[str] = Field(default_factory=list)  # what data it shows: rows, time span

    @model_validator(mode="after")
    def _status_matches(self) -> Section:
        has_content = bool(self.kpis or self.charts or self.tables)
        if self.status == "empty" and not self.empty_reason:
            raise ValueError(f"section {self.id}: expected empty_reason when status is empty")
        if self.status == "ok" and not has_content:
            raise ValueError(f"section {self.id}: expected kpis, charts or tables when ok")
        return self


class Snapshot(StrictModel):
    """The whole document (``window.FINML_SNAPSHOT`` in ``snapshot.js``)."""

    schema_version: Literal["1.0"] = "1.0"
    generated_at: datetime
    project: str
    env: str
    catalog: str
    db_schema: str = Field(alias="schema")
    git_sha: str | None = None
    sections: list[Section]

    model_config = ConfigDict(populate_by_name=True)  # added to StrictModel's

    @model_validator(mode="after")
    def _unique_ids(self) -> Snapshot:
        ids = [s.id for s in self.sections]
        if len(ids) != len(set(ids)):
            raise ValueError(f"sections: expected unique ids, got {ids}")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def validate_snapshot(payload: dict | str) -> Snapshot:
    """Parse and validate a snapshot (dict or JSON text).

    Raises:
        DataError: the document does not match schema version ``1.0``; the message names
            the first offending field.
    """
    try:
        if isinstance(payload, str):
            return Snapshot.model_validate_json(payload)
        return Snapshot.model_validate(payload)
    except ValidationError as exc:
        where = f"dashboard snapshot (schema {SCHEMA_VERSION})"
        raise DataError(describe(exc, where)) from exc
