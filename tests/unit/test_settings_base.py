"""finml.settings_base: a project config's component sections are validated once and passed
down; a changed section is validated anew."""

from __future__ import annotations

import pytest

from finml.config import ProjectConfig
from finml.errors import ConfigError
from finml.models.settings import ModelSettings
from finml.monitoring.settings import MonitoringSettings
from finml.serving.settings import ServingSettings
from finml.settings_base import section_settings


def test_a_section_is_validated_once_per_config(tmp_path) -> None:
    config = ProjectConfig(home=tmp_path, models={"folds": 2}, serving={"max_batch": 7})
    first = ModelSettings.from_config(config)
    assert first.folds == 2
    assert ModelSettings.from_config(config) is first  # kept, not validated again
    assert ServingSettings.from_config(config) is ServingSettings.from_config(config)
    assert ServingSettings.from_config(config).max_batch == 7
    assert MonitoringSettings.from_config(config) == MonitoringSettings()  # defaults


def test_a_changed_section_is_validated_anew(tmp_path) -> None:
    config = ProjectConfig(home=tmp_path, models={"folds": 2})
    first = ModelSettings.from_config(config)
    changed = config.model_copy(update={"models": {"folds": 4}})
    assert ModelSettings.from_config(changed).folds == 4
    assert ModelSettings.from_config(config) is first  # the original keeps its own
    bad = config.model_copy(update={"models": {"folds": "many"}})
    with pytest.raises(ConfigError, match=r"models\.folds"):
        ModelSettings.from_config(bad)


def test_any_object_with_the_section_is_validated_each_time() -> None:
    class Loose:
        models = {"folds": 3}

    found = section_settings(Loose(), "models", ModelSettings)
    assert found.folds == 3 and section_settings(Loose(), "models", ModelSettings) is not found
