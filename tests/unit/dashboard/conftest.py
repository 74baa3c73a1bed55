"""Fixtures for dashboard unit tests: delta-rs tables (no Spark) in a temp warehouse."""

from __future__ import annotations

import pytest


@pytest.fixture
def rs_tables(config):
    """DeltaTables on delta-rs (what the export uses), in ``config``'s fresh warehouse."""
    from finml.runtime.delta import DeltaTables

    return DeltaTables.from_config(config, None)
