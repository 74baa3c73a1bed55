"""Typed project configuration: ``ProjectConfig.from_yaml(path, env)``.

The YAML file has ``defaults`` (shared by every environment), ``environments`` (one block per
target: local, dev, acc, prd) and component sections. Values are merged as
defaults <- environment block <- environment variables, then validated by pydantic with
``extra="forbid"``, so a bad file fails before Spark starts with an error naming the file,
the field, what was expected and what was found. Secrets are never read from the file, only
from the environment (:func:`secret`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from finml.errors import ConfigError
from finml.runtime.names import TableName, validate_identifier
from finml.sources.collector_settings import CollectorSettings
from finml.sources.sim_config import SimulatorConfig

DEFAULT_CONFIG_FILE = "project_config.yml"
ENGINES = ("auto", "delta-spark", "delta-rs")

# Environment variable -> dotted field of the environment settings it overrides.
ENV_OVERRIDES: dict[str, str] = {
    "FINML_HOME": "home",
    "FINML_WAREHOUSE": "warehouse",
    "FINML_LANDING": "landing",
    "FINML_CATALOG": "catalog",
    "FINML_SCHEMA": "schema",
    "FINML_DELTA_ENGINE": "delta_engine",
    "FINML_DELTA_JARS": "delta_jars",
    "FINML_SPARK_MASTER": "spark.master",
    "MLFLOW_TRACKING_URI": "mlflow_tracking_uri",
    "MLFLOW_REGISTRY_URI": "mlflow_registry_uri",
}

# Secrets FinML knows about. They are read from the environment only.
SECRET_VARIABLES = (
    "FINNHUB_API_KEY",
    "ALPHAVANTAGE_API_KEY",
    "FINML_API_TOKEN",
    "FINML_ALERT_WEBHOOK_SECRET",
    "DATABRICKS_TOKEN",
)
_SECRET_WORDS = ("api_key", "apikey", "token", "password", "secret")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class SparkSettings(_Strict):
    """Settings for a local Spark session (ignored where a session already exists)."""

    master: str = "local[2]"
    shuffle_partitions: int = Field(4, ge=1, le=10_000)
    driver_memory: str = Field("2g", pattern=r"^\d+[kmgt]?$")
    conf: dict[str, str] = Field(default_factory=dict)


class _EnvironmentFields(_Strict):
    """Fields an environment block may set; all optional so blocks can be partial."""

    catalog: str | None = None
    db_schema: str | None = Field(None, alias="schema")
    workspace: Literal["local", "databricks"] | None = None
    home: str | None = None
    warehouse: str | None = None
    landing: str | None = None
    mlflow_tracking_uri: str | None = None
    mlflow_registry_uri: str | None = None
    delta_engine: Literal["auto", "delta-spark", "delta-rs"] | None = None
    delta_jars: list[str] | None = None
    spark: SparkSettings | None = None


class _ComponentSections(_Strict):
    """Sections owned by components, kept as mappings here (see ``COMPONENT_SECTIONS``)."""

    features: dict[str, Any] = Field(default_factory=dict)
    regimes: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict)
    serving: dict[str, Any] = Field(default_factory=dict)
    monitoring: dict[str, Any] = Field(default_factory=dict)
    dashboard: dict[str, Any] = Field(default_factory=dict)


class _ConfigFile(_ComponentSections):
    """The shape of ``project_config.yml`` before merging."""

    project: str = "finml"
    default_env: str = "local"
    defaults: _EnvironmentFields = Field(default_factory=_EnvironmentFields)
    environments: dict[str, _EnvironmentFields] = Field(default_factory=dict)
    simulator: dict[str, Any] = Field(default_factory=dict)
    pipeline: dict[str, Any] = Field(default_factory=dict)
    collectors: dict[str, Any] = Field(default_factory=dict)


# Component sections: each is a plain mapping here, validated at load time by the component's
# own settings model (imported lazily: the components import this module).
COMPONENT_SECTIONS: dict[str, str] = {
    "features": "finml.features.settings:feature_settings",
    "regimes": "finml.regimes.settings:regime_settings",
    "models": "finml.models.settings:ModelSettings.from_config",
    "serving": "finml.serving.settings:ServingSettings.from_config",
    "monitoring": "finml.monitoring.settings:MonitoringSettings.from_config",
    "dashboard": "finml.dashboard.settings:DashboardSettings.from_config",
}


class ProjectConfig(_ComponentSections):
    """The resolved configuration of one environment.

    Build it with :meth:`from_yaml` (or :meth:`load`, which finds the file); construct it
    directly only in tests.
    """

    project: str = "finml"
    env: str = "local"
    catalog: str = "finml_local"
    db_schema: str = Field("markets", alias="schema")
    workspace: Literal["local", "databricks"] = "local"
    home: Path = Path(".finml")
    warehouse: Path | None = None
    landing: Path | None = None
    mlflow_tracking_uri: str | None = None
    mlflow_registry_uri: str | None = None
    delta_engine: Literal["auto", "delta-spark", "delta-rs"] = "auto"
    delta_jars: list[str] = Field(default_factory=list)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    source_file: Path | None = None
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    pipeline: dict[str, Any] = Field(default_factory=dict)
    collectors: CollectorSettings = Field(default_factory=CollectorSettings)

    @field_validator("catalog", "db_schema")
    @classmethod
    def _identifier(cls, value: str) -> str:
        return validate_identifier(value, "catalog/schema name").lower()

    @field_validator("env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        return validate_identifier(value, "environment name")

    # ---- derived locations -------------------------------------------------------------
    @property
    def warehouse_dir(self) -> Path:
        """Root of local Delta tables: ``<warehouse>/<catalog>/<schema>/<table>``."""
        return self.warehouse or self.home / "warehouse"

    @property
    def landing_dir(self) -> Path:
        """Landing zone for raw files (a Unity Catalog volume on Databricks)."""
        return self.landing or self.home / "landing"

    @property
    def checkpoint_dir(self) -> Path:
        return self.home / "checkpoints"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI; a sqlite store under ``home`` by default."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if self.workspace == "databricks":
            return "databricks"
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def registry_uri(self) -> str:
        if self.mlflow_registry_uri:
            return self.mlflow_registry_uri
        return "databricks-uc" if self.workspace == "databricks" else self.tracking_uri

    @property
    def artifact_dir(self) -> Path:
        return self.home / "mlartifacts"

    def table(self, name: str) -> TableName:
        """The three-part name of ``name`` in this environment's catalog and schema."""
        return TableName(self.catalog, self.db_schema, name)

    def config_hash(self) -> str:
        """A short stable hash of the effective configuration (an MLflow lineage tag)."""
        payload = self.model_dump(mode="json", exclude={"source_file"})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode())
        return digest.hexdigest()[:12]

    # ---- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, env: str | None = None) -> ProjectConfig:
        """Load from ``path``, else ``$FINML_CONFIG``, else ``./project_config.yml``.

        With no file at all, the built-in defaults (identical to the shipped
        ``project_config.yml``'s local environment) are used.
        """
        candidate = path or os.environ.get("FINML_CONFIG")
        if candidate is None and Path(DEFAULT_CONFIG_FILE).is_file():
            candidate = DEFAULT_CONFIG_FILE
        if candidate is None:
            return cls._resolve({}, Path.cwd(), None, env)
        return cls.from_yaml(candidate, env)

    @classmethod
    def from_yaml(cls, path: str | Path, env: str | None = None) -> ProjectConfig:
        """Read, merge and validate ``path`` for environment ``env``.

        ``env`` defaults to ``$FINML_ENV``, then the file's ``default_env``.

        Raises:
            ConfigError: the file is missing, is not YAML, has an unknown or invalid field,
                names an unknown environment, or holds a secret.
        """
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file}: expected an existing YAML file, found none")
        try:
            raw = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {file}: expected valid YAML, got: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(
                f"config file {file}: expected a mapping at the top level, got {type(raw).__name__}"
            )
        _reject_secrets(raw, file)
        return cls._resolve(raw, file.resolve().parent, file, env)

    @classmethod
    def _resolve(
        cls, raw: dict[str, Any], base_dir: Path, file: Path | None, env: str | None
    ) -> ProjectConfig:
        where = f"config file {file}" if file else "built-in config"
        parsed = _validated(_ConfigFile, raw, where)
        env = env or os.environ.get("FINML_ENV") or parsed.default_env
        if parsed.environments and env not in parsed.environments:
            raise ConfigError(
                f"{where}: environment {env!r} is not defined; expected one of "
                f"{sorted(parsed.environments)}"
            )
        merged = _merge(
            parsed.defaults.model_dump(exclude_none=True, by_alias=True),
            parsed.environments.get(env, _EnvironmentFields()).model_dump(
                exclude_none=True, by_alias=True
            ),
        )
        merged = _merge(merged, _environment_overrides())
        for key in ("home", "warehouse", "landing"):
            if key in merged:
                merged[key] = _absolute(merged[key], base_dir)
        merged.setdefault("home", _absolute(".finml", base_dir))
        merged.update(
            project=parsed.project,
            env=env,
            source_file=file.resolve() if file else None,
            simulator=parsed.simulator,
            pipeline=parsed.pipeline,
            collectors=parsed.collectors,
            **{name: getattr(parsed, name) for name in COMPONENT_SECTIONS},
        )
        config = _validated(cls, merged, f"{where} (environment {env!r})")
        _validate_sections(config, where)
        return config


def _validate_sections(config: ProjectConfig, where: str) -> None:
    """Validate every component section with its own settings model, so a bad section fails
    at load time (before Spark starts) with the component's message."""
    import importlib

    for name, target in COMPONENT_SECTIONS.items():
        if not getattr(config, name):
            continue
        module_name, _, attribute = target.partition(":")
        member: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            member = getattr(member, part)
        try:
            member(config)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def secret(name: str, *, required: bool = False) -> SecretStr | None:
    """Read secret ``name`` from the environment; it is never taken from a file.

    Raises:
        ConfigError: ``required`` is true and the variable is unset or empty.
    """
    value = os.environ.get(name)
    if not value:
        if required:
            raise ConfigError(f"environment variable {name}: expected a secret, found it unset")
        return None
    return SecretStr(value)


def _validated(model: type[_Strict], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "<root>"
        found = err.get("input")
        shown = repr(found) if not isinstance(found, dict) else "a mapping"
        if err["type"] == "extra_forbidden":
            problems.append(f"field {field!r}: unknown field (not allowed here)")
        elif err["type"] == "missing":
            problems.append(f"field {field!r}: required, found nothing")
        else:
            problems.append(f"field {field!r}: expected {err['msg'].lower()}, got {shown}")
    return "; ".join(problems)


def _environment_overrides() -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for variable, field in ENV_OVERRIDES.items():
        value = os.environ.get(variable)
        if not value:
            continue
        if field == "delta_engine" and value not in ENGINES:
            raise ConfigError(
                f"environment variable {variable}: expected one of {ENGINES}, got {value!r}"
            )
        parsed: Any = value.split(os.pathsep) if field == "delta_jars" else value
        target = overrides
        *parents, leaf = field.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = parsed
    return overrides


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _absolute(value: str | Path, base_dir: Path) -> Path:
    path = Path(os.path.expandvars(str(value))).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def _reject_secrets(node: Any, file: Path, trail: str = "") -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{trail}.{key}" if trail else str(key)
            if any(word in str(key).lower() for word in _SECRET_WORDS):
                raise ConfigError(
                    f"config file {file}: field {where!r} looks like a secret; secrets are "
                    f"read from environment variables only ({', '.join(SECRET_VARIABLES)})"
                )
            _reject_secrets(value, file, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _reject_secrets(item, file, f"{trail}[{index}]")
