"""Script parameters and task values (the local JSON channel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finml.bundle.params import parse_params, task_context
from finml.bundle.task_values import ENV_FILE, read_task_values, set_task_value
from finml.errors import JobError


def test_parse_params_maps_dashes_and_fills_optional_defaults() -> None:
    params = parse_params(
        ["--catalog", "c", "--full-refresh", "true"], ("catalog",), {"full_refresh": "false"}
    )
    assert params == {"catalog": "c", "full_refresh": "true", "git_sha": ""}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--catalgo", "c"], r"task parameter '--catalgo': expected one of \['--catalog'"),
        (["--catalog"], r"task parameter --catalog: expected a value, got none"),
        ([], r"task parameters: expected --catalog, got none \(given: nothing\)"),
        (["--catalog", ""], r"expected --catalog, got none"),
    ],
)
def test_parse_params_names_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(JobError, match=message):
        parse_params(argv, ("catalog",))


def test_task_context_applies_catalog_and_schema(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FINML_HOME", str(tmp_path))
    ctx = task_context(["--catalog", "finml_x", "--schema", "s1", "--env", "local"])
    assert (ctx.config.catalog, ctx.config.db_schema, ctx.config.home) == (
        "finml_x",
        "s1",
        tmp_path,
    )
    with pytest.raises(JobError, match=r"--full_refresh: expected true or false, got 'maybe'"):
        ctx.params["full_refresh"] = "maybe"
        ctx.flag("full_refresh")


def test_task_values_accumulate_in_the_runner_file(tmp_path: Path, monkeypatch) -> None:
    file = tmp_path / "values.json"
    monkeypatch.setenv(ENV_FILE, str(file))
    set_task_value("decision", "promote")
    set_task_value("rows", 12)
    assert json.loads(file.read_text()) == {"decision": "promote", "rows": 12}
    assert read_task_values(file) == {"decision": "promote", "rows": 12}
    assert read_task_values(tmp_path / "absent.json") == {}
    with pytest.raises(JobError, match=r"task value 'x': expected a JSON value, got object"):
        set_task_value("x", object())
    file.write_text("[1]")
    with pytest.raises(JobError, match=r"expected a JSON object, got list"):
        read_task_values(file)


def test_on_databricks_task_values_go_through_the_sdk_dbutils(monkeypatch) -> None:
    # On Databricks (serverless included) there is no runner file: values go to
    # dbutils.jobs.taskValues from databricks.sdk.runtime (pyspark.dbutils needs a
    # SparkContext). A stand-in module plays the runtime's here; off Databricks it is unused.
    import sys
    import types

    seen: dict[str, object] = {}
    task_values = types.SimpleNamespace(set=lambda key, value: seen.update({key: value}))
    runtime = types.ModuleType("databricks.sdk.runtime")
    runtime.dbutils = types.SimpleNamespace(jobs=types.SimpleNamespace(taskValues=task_values))
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", runtime)
    monkeypatch.delenv(ENV_FILE, raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    set_task_value("decision", "hold")
    assert seen == {}  # not on Databricks: dropped with a warning
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "client.2.0")
    set_task_value("decision", "promote")
    assert seen == {"decision": "promote"}
