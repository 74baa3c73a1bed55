"""Dashboard settings: the ``dashboard`` section of ``project_config.yml`` (all optional)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from finml.settings_base import StrictModel, section_settings

if TYPE_CHECKING:
    from finml.config import ProjectConfig


class DashboardSettings(StrictModel):
    """Where the site is written and where ``finml dashboard serve`` listens."""

    output_dir: Path | None = None  # default: <home>/dashboard
    host: str = Field("127.0.0.1", pattern=r"^(127\.\d+\.\d+\.\d+|localhost)$")
    port: int = Field(8050, ge=0, le=65535)

    @classmethod
    def from_config(cls, config: ProjectConfig) -> DashboardSettings:
        """The ``dashboard`` section of ``config`` (defaults when it has none).

        Raises:
            ConfigError: the section has an unknown key or a bad value.
        """
        return section_settings(config, "dashboard", cls)

    def site_dir(self, config: ProjectConfig) -> Path:
        return self.output_dir or config.home / "dashboard"
