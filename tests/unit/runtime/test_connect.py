"""Spark Connect settings: the remote URL (config or ``$SPARK_REMOTE``) and the command of a
local Connect server -- no Spark started."""

from __future__ import annotations

from pathlib import Path

import pytest

from finml.config import ProjectConfig, SparkSettings
from finml.errors import ConfigError
from finml.runtime.connect import SERVER_CLASS, remote_url, server_command


def test_the_remote_comes_from_the_config_else_from_spark_remote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert remote_url(ProjectConfig(home=tmp_path)) is None
    monkeypatch.setenv("SPARK_REMOTE", "sc://env-host:15002/;token=abc")
    assert remote_url(ProjectConfig(home=tmp_path)) == "sc://env-host:15002/;token=abc"
    configured = ProjectConfig(home=tmp_path, spark=SparkSettings(remote="sc://cfg:15002"))
    assert remote_url(configured) == "sc://cfg:15002"


def test_a_remote_in_the_config_file_is_a_connect_url_without_a_token(tmp_path: Path) -> None:
    config_file = tmp_path / "project_config.yml"
    config_file.write_text("defaults:\n  spark:\n    remote: sc://h:1/;token=tok-7f3a\n")
    with pytest.raises(ConfigError, match=r"spark\.remote.*SPARK_REMOTE") as error:
        ProjectConfig.from_yaml(config_file)
    assert "tok-7f3a" not in str(error.value)  # the token is never echoed
    config_file.write_text("defaults:\n  spark:\n    remote: http://h:1\n")
    with pytest.raises(ConfigError, match=r"spark\.remote"):
        ProjectConfig.from_yaml(config_file)
    config_file.write_text("defaults:\n  spark:\n    remote: sc://h:1/;use_ssl=true\n")
    assert ProjectConfig.from_yaml(config_file).spark.remote == "sc://h:1/;use_ssl=true"


def test_the_server_runs_the_local_session_conf_on_loopback(tmp_path: Path) -> None:
    jar = tmp_path / "delta-spark_4.2_2.13-4.4.0.jar"
    jar.write_bytes(b"")
    (tmp_path / "delta-storage-4.4.0.jar").write_bytes(b"")
    config = ProjectConfig(
        home=tmp_path / "home",
        delta_jars=[str(jar), str(tmp_path / "delta-storage-4.4.0.jar")],
        spark=SparkSettings(shuffle_partitions=2),
    )
    cmd = server_command(config, 15123)
    assert cmd[0].endswith("spark-submit") and cmd[-1] == "spark-internal"
    assert cmd[cmd.index("--class") + 1] == SERVER_CLASS
    assert cmd[cmd.index("--master") + 1] == "local[2]"
    conf = dict(cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "--conf")
    assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert conf["spark.connect.grpc.binding.port"] == "15123"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert str(jar) in conf["spark.jars"].split(",")
    assert conf["spark.sql.shuffle.partitions"] == "2"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "home" / "spark-warehouse")
