"""The snapshot schema rejects documents the browser could not render."""

from __future__ import annotations

import copy
import re

import pytest

from finml.dashboard.schema import SCHEMA_VERSION, validate_snapshot
from finml.errors import DataError

GOOD = {
    "schema_version": SCHEMA_VERSION,
    "generated_at": "2026-03-02T16:00:00+00:00",
    "project": "finml",
    "env": "local",
    "catalog": "finml_local",
    "schema": "markets",
    "sections": [
        {
            "id": "drift",
            "title": "Drift",
            "status": "ok",
            "kpis": [{"label": "Worst", "value": "HIGH", "status": "bad"}],
            "charts": [
                {
                    "id": "drift_psi",
                    "title": "PSI",
                    "kind": "line",
                    "series": [{"name": "f1", "x": ["2026-03-01"], "y": [0.1]}],
                },
                {
                    "id": "heat",
                    "title": "P",
                    "kind": "heatmap",
                    "z": [[0.5, 0.5], [0.1, 0.9]],
                    "x_labels": ["a", "b"],
                    "y_labels": ["a", "b"],
                },
            ],
            "tables": [{"id": "t", "title": "T", "columns": ["a", "b"], "rows": [[1, None]]}],
        },
        {"id": "alerts", "title": "Alerts", "status": "empty", "empty_reason": "no table"},
    ],
}


def _broken(path: list, value) -> dict:
    doc = copy.deepcopy(GOOD)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def test_valid_document_round_trips_through_json() -> None:
    snapshot = validate_snapshot(GOOD)
    again = validate_snapshot(snapshot.to_json())
    assert again == snapshot
    assert '"schema":"markets"' in snapshot.to_json()


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (["schema_version"], "0.9", "schema_version"),
        (["sections", 0, "colour"], "red", "sections[0].colour"),
        (["sections", 0, "charts", 0, "series", 0, "y"], [0.1, 0.2], "sections[0].charts[0]"),
        (["sections", 0, "charts", 1, "z"], [[0.5, 0.5]], "sections[0].charts[1]"),
        (["sections", 0, "tables", 0, "rows"], [[1]], "sections[0].tables[0]"),
        (["sections", 1, "empty_reason"], None, "sections[1]"),
        (["sections", 0, "kpis", 0, "status"], "purple", "sections[0].kpis[0].status"),
        (["sections", 0, "id"], "Bad Id", "sections[0].id"),
    ],
)
def test_invalid_documents_name_the_field(path: list, value, named: str) -> None:
    with pytest.raises(DataError, match=re.escape(f"field '{named}")):
        validate_snapshot(_broken(path, value))


def test_ok_section_without_content_is_rejected() -> None:
    doc = _broken(["sections", 0], {"id": "x", "title": "X", "status": "ok"})
    with pytest.raises(DataError, match="expected kpis, charts or tables"):
        validate_snapshot(doc)


def test_duplicate_section_ids_are_rejected() -> None:
    doc = _broken(["sections", 1, "id"], "drift")
    with pytest.raises(DataError, match="unique ids"):
        validate_snapshot(doc)
