from __future__ import annotations

import pytest

from finml.config import ProjectConfig
from finml.errors import ConfigError
from finml.monitoring.settings import MonitoringSettings


def test_defaults_and_section_from_config() -> None:
    settings = MonitoringSettings.from_config(ProjectConfig())
    assert settings.drift.bins == 10 and settings.drift.epsilon == 1e-4
    assert (
        settings.drift.thresholds.psi_medium == 0.1 and settings.drift.thresholds.psi_high == 0.25
    )
    assert settings.action.command[:3] == ["finml", "job", "run"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"drift": {"bins": 1}}, "drift.bins"),
        ({"drift": {"thresholds": {"psi_medium": 0.3, "psi_high": 0.2}}}, "psi_high"),
        ({"policy": {"violations_needed": 4, "window_count": 3}}, "violations_needed"),
        ({"action": {"kind": "databricks"}}, "job_id"),
        ({"alerts": {"retries": 3}}, "alerts.retries"),
    ],
)
def test_invalid_sections_name_the_field(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MonitoringSettings.from_dict(section)


def test_spark_path_rejects_the_evidently_mode() -> None:
    from finml.errors import DataError
    from finml.monitoring.drift.spark import spark_drift
    from finml.monitoring.settings import DriftSettings

    with pytest.raises(DataError, match="expected 'quantile' on the Spark path"):
        spark_drift(None, None, ["x"], settings=DriftSettings(binning="evidently"))  # type: ignore[arg-type]
