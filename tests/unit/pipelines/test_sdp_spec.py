"""The open-source SDP spec (resources/sdp/spark-pipeline.yml) and the Databricks pipeline
(resources/medallion_pipeline.yml) are one pipeline: same library, same tables, same target
schema -- and never the jobs' schema. No Spark is started here."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from finml.bundle.loader import load_bundle
from finml.bundle.variables import build_context, resolve
from finml.config import ProjectConfig
from finml.errors import DeltaEngineError
from finml.pipelines import contracts
from finml.pipelines.dlt_binding import define_pipeline
from finml.pipelines.medallion import REFRESHED
from finml.pipelines.sdp import SPEC_PATH, declarative_schema, error_line, plan_run

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO / SPEC_PATH
RESOURCE = REPO / "resources" / "medallion_pipeline.yml"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def databricks_pipeline(target: str = "dev") -> dict[str, Any]:
    bundle = load_bundle(REPO)
    raw = bundle.pipelines["medallion_pipeline"]
    return resolve(raw, build_context(bundle, target), "resources.pipelines.medallion_pipeline")


class Names:
    """Records the datasets a binding declares, without running them."""

    def __init__(self, *, databricks: bool) -> None:
        self.names: list[str] = []
        if databricks:
            self.expect_all = self.expect_all_or_drop = self.expect_all_or_fail = self._same
            self.view = self._record
        else:
            self.materialized_view = self.temporary_view = self._record
        self.table = self._record

    def _same(self, rules: dict[str, str]) -> Any:
        return lambda function: function

    def _record(self, **options: Any) -> Any:
        return lambda function: self.names.append(options["name"])


class NoSpark:
    """A session stand-in: declaring tables only references ``spark.read``."""

    read = readStream = None


def test_both_specs_load_the_same_library() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    [library] = spec["libraries"]
    [databricks] = databricks_pipeline()["libraries"]
    sdp_file = (SPEC.parent / library["glob"]["include"]).resolve()
    databricks_file = (RESOURCE.parent / databricks["file"]["path"]).resolve()
    assert sdp_file == databricks_file == REPO / "scripts" / "dlt_medallion.py"


@pytest.mark.parametrize("target", ["dev", "prd"])
def test_both_write_the_dlt_schema_never_the_jobs_schema(target: str) -> None:
    pipeline = databricks_pipeline(target)
    jobs_schema = build_context(load_bundle(REPO), target).values["var.schema"]
    assert pipeline["schema"] == declarative_schema(jobs_schema) == f"{jobs_schema}_dlt"
    assert yaml.safe_load(SPEC.read_text())["database"] == declarative_schema("markets")
    assert pipeline["schema"] != jobs_schema


def test_both_pass_the_configuration_the_library_reads() -> None:
    sdp = yaml.safe_load(SPEC.read_text())["configuration"]
    databricks = databricks_pipeline()["configuration"]
    assert "finml.landing" in sdp and "finml.landing" in databricks
    assert sdp["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG


@pytest.mark.parametrize("databricks", [True, False], ids=["databricks", "open-source"])
def test_the_library_declares_the_runner_tables(databricks: bool) -> None:
    names = Names(databricks=databricks)
    define_pipeline(names, NoSpark(), "/landing")  # type: ignore[arg-type]
    tables = [n for n in names.names if not n.endswith("_candidates")]
    assert sorted(tables) == sorted(c.name for c in contracts.MEDALLION)
    # every table the runner refreshes, plus bronze, and nothing else
    assert set(tables) == {*REFRESHED, "bronze_trades", "bronze_bars"}


def test_the_rendered_spec_runs_on_delta_in_the_home(tmp_path: Path) -> None:
    config = ProjectConfig(home=tmp_path / "home")
    run = plan_run(config)
    spec = yaml.safe_load(run.spec.read_text())
    assert "database" not in spec  # SDP cannot create it: the warehouse folder is the schema
    assert spec["storage"] == (tmp_path / "home" / "sdp" / "storage").resolve().as_uri()
    assert spec["configuration"]["finml.landing"] == str(config.landing_dir.resolve())
    assert spec["configuration"]["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    library = (run.spec.parent / spec["libraries"][0]["glob"]["include"]).resolve()
    assert library == REPO / "scripts" / "dlt_medallion.py"
    assert run.warehouse == (config.warehouse_dir / "finml_local" / "markets_dlt").resolve()
    submit = shlex.split(run.env["PYSPARK_SUBMIT_ARGS"])
    assert submit[-1] == "pyspark-shell"
    assert "--conf=spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in submit
    assert f"--conf=spark.sql.warehouse.dir={run.warehouse}" in submit
    assert all(Path(jar).is_file() for jar in run.env["SPARK_DIST_CLASSPATH"].split(":"))
    assert run.argv[1:3] == ["run", "--spec"] and "--remote" in run.argv


def test_no_jars_no_run(tmp_path: Path) -> None:
    config = ProjectConfig(home=tmp_path / "home", delta_engine="delta-rs")
    with pytest.raises(DeltaEngineError, match="never plain Parquet"):
        plan_run(config)


def test_a_failed_run_is_summarised_in_one_line() -> None:
    output = "\n".join(
        [
            "2026-11-30 13:28:47: Starting run...",
            "Traceback (most recent call last):",
            '  File "cli.py", line 450, in <module>',
            "pyspark.errors.exceptions.connect.UnknownException: (org.apache.spark.sql."
            "pipelines.graph.DatasetManager$TableMaterializationException) org.apache.spark."
            "SparkException: [DATA_SOURCE_NOT_FOUND] Failed to find the data source: delta. "
            "SQLSTATE: 42K02",
        ]
    )
    assert error_line(output) == (
        "UnknownException: [DATA_SOURCE_NOT_FOUND] Failed to find the data source: delta."
    )
    assert error_line("") == "no output"
