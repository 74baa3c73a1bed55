"""Dashboard settings: the ``dashboard`` section of ``project_config.yml`` (all optional)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from finml.errors import ConfigError

if TYPE_CHECKING:
    from finml.config import ProjectConfig


class DashboardSettings(BaseModel):
    """Where the site is written and where ``finml dashboard serve`` listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output_dir: Path | None = None  # default: <home>/dashboard
    host: str = Field("127.0.0.1", pattern=r"^(127\.\d+\.\d+\.\d+|localhost)$")
    port: int = Field(8050, ge=0, le=65535)

    @classmethod
    def from_config(cls, config: ProjectConfig) -> DashboardSettings:
        """The ``dashboard`` section of ``config`` (defaults when it has none).

        Raises:
            ConfigError: the section has an unknown key or a bad value.
        """
        section: dict[str, Any] = dict(getattr(config, "dashboard", None) or {})
        try:
            return cls.model_validate(section)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"dashboard.{field}: expected a valid value, got {first.get('input')!r} "
                f"({first['msg']})"
            ) from exc

    def site_dir(self, config: ProjectConfig) -> Path:
        return self.output_dir or config.home / "dashboard"
