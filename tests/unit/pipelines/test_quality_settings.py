"""The ``quality`` config section: defaults, validation naming the field, SQL literals."""

from __future__ import annotations

from datetime import date

import pytest

from finml.errors import ConfigError
from finml.pipelines.contracts import expectations_for
from finml.pipelines.settings import QualitySettings
from finml.pipelines.trades import SILVER_TRADES


def test_defaults_are_wide_enough_for_real_anomalies() -> None:
    settings = QualitySettings()
    assert settings.price_band > 10  # a 10x fat finger is an anomaly to detect, not bad data
    assert settings.earliest_date == date(1990, 1, 1)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"price_band": 1.0}, "price_band"),
        ({"max_price": -1}, "max_price"),
        ({"symbol_pattern": "[unclosed"}, "symbol_pattern"),
        ({"symbol_pattern": "it's"}, "symbol_pattern"),
        ({"band_days": 3}, "band_days"),
    ],
)
def test_bad_values_name_the_section_and_field(section: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"section 'quality': field 'quality\.{field}'"):
        QualitySettings.from_section(section)


def test_bounds_reach_the_rules_as_sql_literals() -> None:
    params = QualitySettings(max_price=123.5, symbol_pattern=r"^\d+$").sql_params()
    rules = {r.name: r.condition for r in expectations_for(SILVER_TRADES, params)}
    assert "price <= 123.5" in rules["price_below_max"]
    assert r"RLIKE '^\\d+$'" in rules["symbol_format"]  # backslash escaped for Spark SQL
    assert all("{" not in condition for condition in rules.values())
