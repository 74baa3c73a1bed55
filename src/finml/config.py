"""Typed project configuration: ``ProjectConfig.load(path, env)`` / ``from_yaml(path, env)``.

The YAML file has ``defaults`` (shared by every environment), ``environments`` (one block per
target: local, dev, acc, prd) and component sections. Values are merged as
defaults <- environment block <- environment variables, then validated by pydantic with
``extra="forbid"``, so a bad file fails before Spark starts with an error naming the file,
the key path, what was expected and what was found. The file is read strictly
(:mod:`finml.config_file`: an empty file, a repeated key or a YAML error is an error) and
every key is checked against the models, component sections included
(:mod:`finml.config_keys`). Secrets are never read from this file: :func:`secret` reads the
environment, then the environment's SOPS-encrypted file (:mod:`finml.secrets`).

No file found is an error naming where FinML looked, unless ``$FINML_HOME`` says where state
lives: then the built-in defaults (the shipped file's ``local`` environment) are used. State
is never put in whatever folder ``finml`` happens to run from.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from finml.config_collectors import CollectorSettings
from finml.config_file import DEFAULT_CONFIG_FILE, ConfigSearch, find_config_file, read_config_file
from finml.config_keys import UnknownKey, check_keys
from finml.config_merge import ENV_OVERRIDES, merge_layers, validated
from finml.config_simulator import SimulatorConfig
from finml.errors import ConfigError
from finml.names import TableName, validate_identifier
from finml.secrets import SECRET_VARIABLES, SecretStore, reject_secret_keys, secrets_file, store_for
from finml.settings_base import StrictModel

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENV_OVERRIDES",
    "SECRET_VARIABLES",
    "ProjectConfig",
    "SparkSettings",
    "secret",
]


class _Strict(StrictModel):
    # ``schema`` is the YAML key of ``db_schema`` (a BaseModel attribute name).
    model_config = ConfigDict(populate_by_name=True)  # added to StrictModel's


class SparkSettings(_Strict):
    """Settings for a local Spark session (ignored where a session already exists)."""

    master: str = "local[2]"
    shuffle_partitions: int = Field(4, ge=1, le=10_000)
    driver_memory: str = Field("2g", pattern=r"^\d+[kmgt]?$")
    # The JVM's JIT: "c1" (-XX:TieredStopAtLevel=1) starts sooner and suits short runs
    # (spark-submit tasks, CLI commands); "tiered" (C2 too) runs a long session faster: the
    # Spark tests of features and pipelines, one session, took 6 min 08 s against 7 min 54 s
    # with "c1", while the bundle's spark-submit tasks took 648 s against 606 s.
    jit: Literal["c1", "tiered"] = "c1"
    conf: dict[str, str] = Field(default_factory=dict)
    # A Spark Connect server (``sc://host:port``) to use instead of a local session; pyspark's
    # own ``$SPARK_REMOTE`` does the same (and is where a URL carrying a token belongs).
    remote: str | None = Field(None, pattern=r"^sc://[^\s;]+(/;[^\s]*)?$")

    @field_validator("remote")
    @classmethod
    def _no_token(cls, value: str | None) -> str | None:
        if value is not None and "token=" in value.lower():
            raise ValueError(
                "expected a Spark Connect URL without a token (secrets come from the "
                "environment: set SPARK_REMOTE instead), got a URL with token="
            )
        return value


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
    decisions: dict[str, Any] = Field(default_factory=dict)
    monitoring: dict[str, Any] = Field(default_factory=dict)
    dashboard: dict[str, Any] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)
    eda: dict[str, Any] = Field(default_factory=dict)


class _ConfigFile(_ComponentSections):
    """The shape of ``project_config.yml`` before merging."""

    project: str = "finml"
    default_env: str = "local"
    defaults: _EnvironmentFields = Field(default_factory=_EnvironmentFields)
    environments: dict[str, _EnvironmentFields] = Field(default_factory=dict)
    simulator: dict[str, Any] = Field(default_factory=dict)
    collectors: dict[str, Any] = Field(default_factory=dict)


# Component sections: each is a plain mapping here, validated at load time by the component's
# own settings model (imported lazily: the components import this module).
COMPONENT_MODELS: dict[str, str] = {
    "features": "finml.features.settings:FeatureSettings",
    "regimes": "finml.regimes.settings:RegimeSettings",
    "models": "finml.models.settings:ModelSettings",
    "serving": "finml.serving.settings:ServingSettings",
    "decisions": "finml.serving.decisions.policy:DecisionPolicy",
    "monitoring": "finml.monitoring.settings:MonitoringSettings",
    "dashboard": "finml.dashboard.settings:DashboardSettings",
    "quality": "finml.pipelines.settings:QualitySettings",
    "eda": "finml.eda.settings:EdaSettings",
}
COMPONENT_SECTIONS: dict[str, str] = {
    "features": "finml.features.settings:feature_settings",
    "regimes": "finml.regimes.settings:regime_settings",
    "models": "finml.models.settings:ModelSettings.from_config",
    "serving": "finml.serving.settings:ServingSettings.from_config",
    "decisions": "finml.serving.decisions.policy:DecisionPolicy.from_config",
    "monitoring": "finml.monitoring.settings:MonitoringSettings.from_config",
    "dashboard": "finml.dashboard.settings:DashboardSettings.from_config",
    "quality": "finml.pipelines.settings:QualitySettings.from_config",
    "eda": "finml.eda.settings:EdaSettings.from_config",
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
    collectors: CollectorSettings = Field(default_factory=CollectorSettings)
    # the validated component settings (finml.settings_base.section_settings)
    _section_settings: dict[tuple[str, int], tuple[Any, Any]] = PrivateAttr(default_factory=dict)

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

    @property
    def secrets(self) -> SecretStore:
        """This environment's secrets: variables, then ``secrets/<env>.enc.yaml`` beside the
        config file (or ``$FINML_SECRETS_FILE``), decrypted once per process."""
        root = self.source_file.parent if self.source_file else None
        return store_for(secrets_file(root, self.env))

    # ---- loading -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, env: str | None = None) -> ProjectConfig:
        """Load from ``path``, else ``$FINML_CONFIG``, else ``project_config.yml`` in the
        working folder or its nearest parent that has one.

        With no file anywhere, the built-in defaults (the shipped file's ``local``
        environment) are used only when ``$FINML_HOME`` names where state lives.

        Raises:
            ConfigError: no file was found (naming every place looked), or see
                :meth:`from_yaml`.
        """
        found = find_config_file(path)
        if isinstance(found, Path):
            return cls.from_yaml(found, env)
        if not os.environ.get("FINML_HOME"):
            raise ConfigError(_not_found(found))
        return cls._resolve({}, Path.cwd(), None, env)

    @classmethod
    def from_yaml(cls, path: str | Path, env: str | None = None) -> ProjectConfig:
        """Read, merge and validate ``path`` for environment ``env``.

        ``env`` defaults to ``$FINML_ENV``, then the file's ``default_env``.

        Raises:
            ConfigError: the file is missing, empty, not YAML or not a mapping, repeats a key,
                has an unknown or invalid key (named by its path), names an unknown
                environment, holds a secret, or an environment variable has a bad value.
        """
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file}: expected an existing YAML file, found none")
        raw = read_config_file(file)
        reject_secret_keys(raw, file)
        try:
            check_keys(raw, _ConfigFile, top=_section_models(raw))
        except UnknownKey as exc:
            raise ConfigError(f"config file {file}: {exc}") from None
        return cls._resolve(raw, file.resolve().parent, file, env)

    @classmethod
    def _resolve(
        cls, raw: dict[str, Any], base_dir: Path, file: Path | None, env: str | None
    ) -> ProjectConfig:
        where = f"config file {file}" if file else "built-in config"
        parsed: _ConfigFile = validated(_ConfigFile, raw, where)
        env = _environment_name(parsed, env, where)
        defaults = parsed.defaults.model_dump(exclude_none=True, by_alias=True)
        block = parsed.environments.get(env, _EnvironmentFields()).model_dump(
            exclude_none=True, by_alias=True
        )
        merged, origins = merge_layers(defaults, block, env)
        for key in ("home", "warehouse", "landing"):
            if key in merged:
                merged[key] = _absolute(merged[key], base_dir)
        merged.setdefault("home", _absolute(".finml", base_dir))
        merged.update(
            project=parsed.project,
            env=env,
            source_file=file.resolve() if file else None,
            simulator=parsed.simulator,
            collectors=parsed.collectors,
            **{name: getattr(parsed, name) for name in COMPONENT_SECTIONS},
        )
        config = validated(cls, merged, f"{where} (environment {env!r})", origins)
        _validate_sections(config, where)
        return config


def _not_found(search: ConfigSearch) -> str:
    return (
        f"no project config found: {search.describe()}; expected one of these "
        f"(run finml in the project folder or pass --config FILE), or $FINML_HOME set to "
        f"run on the built-in defaults"
    )


def _environment_name(parsed: _ConfigFile, asked: str | None, where: str) -> str:
    """The environment to resolve: ``asked`` (``--env``), else ``$FINML_ENV``, else the
    file's ``default_env``; it must be one the file defines (only ``default_env`` when the
    file has no ``environments``).

    Raises:
        ConfigError: naming the environment, where its name came from and the known ones.
    """
    known = sorted(parsed.environments) or [parsed.default_env]
    if parsed.default_env not in known:
        raise ConfigError(
            f"{where}: field 'default_env': expected one of the environments {known}, "
            f"got {parsed.default_env!r}"
        )
    if asked:
        name, origin = asked, "asked for with --env"
    elif os.environ.get("FINML_ENV"):
        name, origin = os.environ["FINML_ENV"], "from $FINML_ENV"
    else:
        name, origin = parsed.default_env, "the default_env"
    if name not in known:
        raise ConfigError(
            f"{where}: environment {name!r} is not defined ({origin}); expected one of {known}"
        )
    return name


def _section_models(raw: dict[str, Any]) -> dict[str, Any]:
    """The model of each section the file has that is a plain mapping in ``_ConfigFile``."""
    models: dict[str, Any] = {"simulator": SimulatorConfig, "collectors": CollectorSettings}
    for name, target in COMPONENT_MODELS.items():
        if raw.get(name):
            models[name] = _imported(target)
    return models


def _imported(target: str) -> Any:
    """``"package.module:Name.attribute"`` imported."""
    import importlib

    module_name, _, attribute = target.partition(":")
    member: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        member = getattr(member, part)
    return member


def _validate_sections(config: ProjectConfig, where: str) -> None:
    """Validate every component section with its own settings model, so a bad section fails
    at load time (before Spark starts) with the component's message."""
    for name, target in COMPONENT_SECTIONS.items():
        if not getattr(config, name):
            continue
        try:
            _imported(target)(config)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def secret(
    name: str, *, required: bool = False, config: ProjectConfig | None = None
) -> SecretStr | None:
    """Secret ``name``: its environment variable, else ``config``'s encrypted secrets file
    (without ``config``: ``$FINML_SECRETS_FILE``, if set); never the config file.

    Raises:
        ConfigError: ``required`` is true and neither has it.
        SecretsError: the secrets file cannot be decrypted (the message holds no value).
    """
    store = config.secrets if config is not None else store_for(secrets_file(None, ""))
    return store.require(name) if required else store.get(name)


def _absolute(value: str | Path, base_dir: Path) -> Path:
    path = Path(os.path.expandvars(str(value))).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()
