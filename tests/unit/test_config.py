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
