from __future__ import annotations

import pytest
import yaml

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


EMAIL = {"kind": "email", "name": "mail", "host": "h", "from": "a@b.c", "to": ["x@y.z"]}
SLACK = {"kind": "webhook", "name": "slack", "format": "slack", "url": "https://h/x"}
ESCALATE = {"after": 3, "within_minutes": 60, "severity": "CRITICAL"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"drift": {"bins": 1}}, "drift.bins"),
        ({"drift": {"thresholds": {"psi_medium": 0.3, "psi_high": 0.2}}}, "psi_high"),
        ({"policy": {"violations_needed": 4, "window_count": 3}}, "violations_needed"),
        ({"action": {"kind": "databricks"}}, "job_id"),
        ({"alerts": {"retries": 3}}, "alerts.retries"),
        ({"alerts": {"channels": [{**EMAIL, "to": []}]}}, r"alerts.channels\[0\].email.to"),
        ({"alerts": {"channels": [{**EMAIL, "to": ["nobody"]}]}}, "expected an email address"),
        ({"alerts": {"channels": [{**EMAIL, "username": "u"}]}}, "expected both username and"),
        ({"alerts": {"channels": [{**EMAIL, "auth_env": "a-b"}]}}, "email.auth_env"),
        ({"alerts": {"channels": [{**EMAIL, "port": 0}]}}, "email.port"),
        ({"alerts": {"channels": [{**EMAIL, "kind": "pager"}]}}, "'webhook', 'email'"),
        ({"alerts": {"channels": [{**SLACK, "format": "teams"}]}}, "webhook.format"),
        ({"alerts": {"channels": [{**SLACK, "url_env": "U"}]}}, "exactly one of url and url_env"),
        ({"alerts": {"channels": [EMAIL, EMAIL]}}, r"unique names, got \['mail'\]"),
        ({"alerts": {"escalation": {**ESCALATE, "channels": ["x"]}}}, "escalation.channels"),
        ({"alerts": {"escalation": {"after": 2, "within_minutes": 5}}}, "a severity, channels"),
        ({"alerts": {"escalation": {**ESCALATE, "after": 1}}}, "escalation.after"),
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


def test_an_smtp_password_in_the_config_file_is_refused(tmp_path) -> None:
    channel = {**EMAIL, "username": "finml", "auth_env": "FINML_SMTP_PASSWORD"}
    good = {"project": "finml", "monitoring": {"alerts": {"channels": [channel]}}}
    path = tmp_path / "project_config.yml"
    path.write_text(yaml.safe_dump(good))
    settings = MonitoringSettings.from_config(ProjectConfig.load(path))
    assert settings.alerts.channels[0].auth_env == "FINML_SMTP_PASSWORD"
    good["monitoring"]["alerts"]["channels"][0]["password"] = "hunter2"
    path.write_text(yaml.safe_dump(good))
    with pytest.raises(ConfigError, match="looks like a secret") as caught:
        ProjectConfig.load(path)
    assert "hunter2" not in str(caught.value)
