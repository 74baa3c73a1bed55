from __future__ import annotations

from pathlib import Path

import pytest

from finml.config import ProjectConfig, secret
from finml.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project_config.yml"
    path.write_text(text)
    return path


def test_shipped_config_loads_for_every_environment() -> None:
    for env in ("local", "dev", "acc", "prd"):
        config = ProjectConfig.from_yaml(REPO / "project_config.yml", env)
        assert config.env == env
        assert config.catalog == f"finml_{env}"
        assert config.db_schema == "markets"
    local = ProjectConfig.from_yaml(REPO / "project_config.yml", "local")
    assert local.workspace == "local"
    assert local.tracking_uri.startswith("sqlite:///")
    assert ProjectConfig.from_yaml(REPO / "project_config.yml", "prd").tracking_uri == "databricks"
    assert ProjectConfig.from_yaml(REPO / "project_config.yml", "prd").registry_uri == (
        "databricks-uc"
    )


def test_defaults_merge_under_environment_blocks_and_paths_resolve_to_the_file(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """
defaults:
  schema: markets
  spark: {master: "local[1]", shuffle_partitions: 3}
environments:
  local: {catalog: finml_local, home: state, spark: {shuffle_partitions: 5}}
""",
    )
    config = ProjectConfig.from_yaml(path, "local")
    assert config.home == tmp_path / "state"
    assert config.warehouse_dir == tmp_path / "state" / "warehouse"
    assert config.spark.shuffle_partitions == 5
    assert config.spark.master == "local[2]"  # nested blocks replace whole models
    assert config.table("silver_trades").__str__() == "finml_local.markets.silver_trades"


def test_environment_variables_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "environments:\n  local: {catalog: finml_local}\n  dev: {catalog: d}\n")
    monkeypatch.setenv("FINML_ENV", "dev")
    monkeypatch.setenv("FINML_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("FINML_SPARK_MASTER", "local[1]")
    monkeypatch.setenv("FINML_DELTA_ENGINE", "delta-rs")
    config = ProjectConfig.from_yaml(path)
    assert (config.env, config.catalog, config.home) == ("dev", "d", tmp_path / "h")
    assert config.spark.master == "local[1]"
    assert config.delta_engine == "delta-rs"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  local: {catalog: c, colour: red}\n",
            "'environments.local.colour': unknown",
        ),
        ("defaults:\n  spark: {shuffle_partitions: abc}\n", "defaults.spark.shuffle_partitions"),
        ("defaults:\n  spark: {shuffle_partitions: 0}\n", "greater than or equal to 1, got 0"),
        ("defaults:\n  delta_engine: jvm\n", "'defaults.delta_engine'"),
        ("environments:\n  local: {catalog: 'bad name'}\n", "catalog/schema name"),
        ("just a string\n", "expected a mapping at the top level"),
        ("a: [unclosed\n", "expected valid YAML"),
        ("environments:\n  local:\n    finnhub_api_key: x\n", "looks like a secret"),
    ],
)
def test_bad_files_fail_naming_the_file_the_field_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.from_yaml(path, "local")
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_unknown_environment_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "environments:\n  local: {catalog: c}\n")
    with pytest.raises(ConfigError, match=r"environment 'qa' is not defined.*\['local'\]"):
        ProjectConfig.from_yaml(path, "qa")


def test_missing_file_and_bad_env_variable_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="expected an existing YAML file"):
        ProjectConfig.from_yaml(tmp_path / "nope.yml")
    monkeypatch.setenv("FINML_DELTA_ENGINE", "fast")
    with pytest.raises(ConfigError, match="FINML_DELTA_ENGINE: expected one of"):
        ProjectConfig.load(write(tmp_path, "{}\n"))


def test_secrets_come_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINNHUB_API_KEY", raising=False)
    assert secret("FINNHUB_API_KEY") is None
    with pytest.raises(ConfigError, match="FINNHUB_API_KEY: expected a secret"):
        secret("FINNHUB_API_KEY", required=True)
    monkeypatch.setenv("FINNHUB_API_KEY", "s3cr3t")
    value = secret("FINNHUB_API_KEY")
    assert value is not None and value.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(value) and "s3cr3t" not in str(value)


def test_config_hash_is_stable_and_changes_with_the_config(tmp_path: Path) -> None:
    a = ProjectConfig(home=tmp_path)
    assert a.config_hash() == ProjectConfig(home=tmp_path).config_hash()
    assert a.config_hash() != ProjectConfig(home=tmp_path, catalog="other").config_hash()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  local: {}\n  dev:\n    spark:\n      shufle_partitions: 3\n",
            "key 'environments.dev.spark.shufle_partitions': unknown key; did you mean "
            "'shuffle_partitions'? expected one of conf, driver_memory, jit, master, remote, "
            "shuffle_partitions",
        ),
        ("enviroments: {local: {}}\n", "key 'enviroments': unknown key; did you mean 'environ"),
        ("defaults:\n  spark: {conf: {a: b}, mastr: x}\n", "'defaults.spark.mastr'"),
        ("serving:\n  ab: {modee: shadow}\n", "key 'serving.ab.modee': unknown key; did you "),
        ("simulator:\n  dayz: 3\n", "key 'simulator.dayz': unknown key; did you mean 'days'?"),
        ("pipeline: {full_refresh: true}\n", "key 'pipeline': unknown key"),  # nothing read it
    ],
)
def test_unknown_keys_at_any_depth_name_the_path_and_the_allowed_keys(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.from_yaml(path, "local")
    assert str(info.value).startswith(f"config file {path}: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a mapping of settings, got an empty file"),
        ("environments:\n  local: {}\n  local: {catalog: x}\n", "key 'environments.local' is "),
        ("defaults:\n  spark:\n    master: a\n    master: b\n", "'defaults.spark.master' is gi"),
        ("defaults:\n  schema: [\n", "line 3, column 1: expected valid YAML"),
    ],
)
def test_empty_files_repeated_keys_and_syntax_errors_are_config_errors(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.from_yaml(path, "local")
    assert str(info.value).startswith(f"config file {path}")
    assert expected in str(info.value)


def test_a_bad_value_names_the_file_key_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "environments:\n  local: {catalog: 'bad name'}\n")
    with pytest.raises(ConfigError, match=r"field 'environments\.local\.catalog': catalog/sch"):
        ProjectConfig.from_yaml(path, "local")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FINML_CATALOG", "bad name", "environment variable FINML_CATALOG: catalog/schema name"),
        ("FINML_SCHEMA", "1x", "environment variable FINML_SCHEMA: catalog/schema name"),
        ("FINML_DELTA_ENGINE", "jvm", "environment variable FINML_DELTA_ENGINE: expected one of"),
        ("FINML_ENV", "qa", "environment 'qa' is not defined (from $FINML_ENV); expected one "),
    ],
)
def test_bad_environment_variables_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.from_yaml(REPO / "project_config.yml")
    assert expected in str(info.value)
    assert repr(value) in str(info.value)


def test_an_environment_the_file_does_not_define_is_an_error_even_without_environments(
    tmp_path: Path,
) -> None:
    bare = write(tmp_path, "defaults: {catalog: c}\n")
    assert ProjectConfig.from_yaml(bare).env == "local"  # the default_env
    with pytest.raises(ConfigError, match=r"environment 'nope' is not defined .*\['local'\]"):
        ProjectConfig.from_yaml(bare, "nope")
    odd = write(tmp_path, "default_env: qa\nenvironments: {local: {}}\n")
    with pytest.raises(ConfigError, match=r"'default_env': expected one of the environments"):
        ProjectConfig.from_yaml(odd, "local")


def test_no_config_anywhere_is_an_error_naming_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any((p / "project_config.yml").is_file() for p in tmp_path.parents):
        pytest.skip(f"a project_config.yml exists above {tmp_path}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINML_HOME", raising=False)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.load(env="local")
    assert str(info.value).startswith(
        f"no project config found: --config not given, $FINML_CONFIG not set, "
        f"no project_config.yml in {tmp_path} or any parent folder up to /"
    )
    assert not (tmp_path / ".finml").exists()


def test_without_a_file_finml_home_selects_the_built_in_local_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any((p / "project_config.yml").is_file() for p in tmp_path.parents):
        pytest.skip(f"a project_config.yml exists above {tmp_path}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINML_HOME", str(tmp_path / "state"))
    config = ProjectConfig.load()
    assert (config.env, config.home, config.source_file) == ("local", tmp_path / "state", None)
    with pytest.raises(ConfigError, match=r"built-in config: environment 'nope' is not defined"):
        ProjectConfig.load(env="nope")


def test_load_finds_the_file_in_a_parent_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "environments:\n  local: {catalog: from_parent}\n")
    (tmp_path / "scripts").mkdir()
    monkeypatch.chdir(tmp_path / "scripts")
    config = ProjectConfig.load()
    assert (config.catalog, config.source_file) == ("from_parent", tmp_path / "project_config.yml")
