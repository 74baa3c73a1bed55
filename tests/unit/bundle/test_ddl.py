"""sql/10_audit_tables.sql stays equal to the schemas in the code that writes each table.

Table-driven: when a component lands with its schema constant, put its import path in
``CODE_SCHEMAS`` (replacing ``None``); the test then holds the DDL to it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pyarrow as pa
import pytest

from finml.bundle.ddl import arrow_sql_type, code_columns, parse_tables, render
from finml.errors import InvalidIdentifier, JobError

REPO = Path(__file__).resolve().parents[3]
DDL = parse_tables((REPO / "sql" / "10_audit_tables.sql").read_text())

# table -> "module:ATTRIBUTE" of the Arrow/Spark schema the code writes (None: not landed yet).
CODE_SCHEMAS: dict[str, str | None] = {
    "job_runs": "finml.bundle.runs:JOB_RUNS_SCHEMA",
    "data_quality_log": "finml.pipelines.quality:DQ_SCHEMA",
    "predictions": "finml.serving.scoring:PREDICTIONS_SCHEMA",
    "inference_log": "finml.serving.inference_log:INFERENCE_LOG_SCHEMA",
    "champion_challenger_audit": "finml.models.audit:GATE_SCHEMA",
    "rollback_audit": "finml.models.audit:ROLLBACK_SCHEMA",
    "regime_model_audit": "finml.regimes.promotion:REGIME_AUDIT_SCHEMA",
    "retraining_audit": "finml.monitoring.schemas:RETRAINING_AUDIT",
    "alerts": "finml.monitoring.schemas:ALERTS",
    "drift_monitoring": "finml.monitoring.schemas:DRIFT_MONITORING",
    "model_monitoring": "finml.monitoring.schemas:MODEL_MONITORING",
    "ab_tests": "finml.serving.abtest:AB_TESTS_SCHEMA",
}


def test_every_audit_table_has_ddl_and_an_entry_here() -> None:
    assert set(DDL) == set(CODE_SCHEMAS)


@pytest.mark.parametrize("table", sorted(CODE_SCHEMAS))
def test_ddl_equals_the_code_schema(table: str) -> None:
    target = CODE_SCHEMAS[table]
    if target is None:
        pytest.skip(f"{table}: the code's schema has not landed yet")
    module, _, attribute = target.partition(":")
    schema = getattr(importlib.import_module(module), attribute)
    assert DDL[table] == code_columns(schema), f"sql/10_audit_tables.sql: {table} differs"


def test_parser_reads_nested_types_comments_and_not_null() -> None:
    sql = """
    CREATE TABLE IF NOT EXISTS ${catalog}.${schema}.t (
      a MAP<STRING, ARRAY<BIGINT>> COMMENT 'x, y (z)',  -- trailing, comment
      `b` decimal(10, 2) NOT NULL
    ) USING DELTA;"""
    assert parse_tables(sql) == {"t": [("a", "MAP<STRING,ARRAY<BIGINT>>"), ("b", "DECIMAL(10,2)")]}
    with pytest.raises(JobError, match=r"DDL of t: expected '<column> <type>', got 'oops'"):
        parse_tables("CREATE TABLE IF NOT EXISTS t (oops) USING DELTA")


def test_arrow_types_map_to_delta_sql_types() -> None:
    assert arrow_sql_type(pa.timestamp("us", tz="UTC")) == "TIMESTAMP"
    assert arrow_sql_type(pa.timestamp("us")) == "TIMESTAMP_NTZ"
    assert arrow_sql_type(pa.list_(pa.string())) == "ARRAY<STRING>"
    with pytest.raises(JobError, match="expected one FinML stores"):
        arrow_sql_type(pa.duration("s"))


def test_spark_schemas_compare_too() -> None:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("a", StringType()), StructField("b", LongType())])
    assert code_columns(schema) == [("a", "STRING"), ("b", "BIGINT")]


def test_render_substitutes_validated_identifiers() -> None:
    sql = (REPO / "sql" / "00_catalog.sql").read_text()
    rendered = render(sql, "finml_prd", "markets")
    assert "CREATE CATALOG IF NOT EXISTS finml_prd" in rendered
    assert "CREATE VOLUME IF NOT EXISTS finml_prd.markets.landing" in rendered
    assert "${" not in rendered
    with pytest.raises(InvalidIdentifier):
        render(sql, "finml; DROP", "markets")


def test_medallion_ddl_is_generated_from_the_contracts() -> None:
    from finml.bundle.ddl import MEDALLION_DDL, medallion_ddl
    from finml.pipelines.contracts import MEDALLION

    committed = (REPO / MEDALLION_DDL).read_text()
    assert committed == medallion_ddl(), "run `finml bundle ddl --write`"
    tables = parse_tables(committed)
    assert list(tables) == [c.name for c in MEDALLION]
    for contract in MEDALLION:
        assert tables[contract.name] == contract.sql_types(), contract.name
    assert "COMMENT 'Typed, checked, deduplicated trades'" in committed
    assert "-- rule ohlc_consistent (fail): low <= least(open, close)" in committed


def test_a_contract_change_shows_in_the_generated_ddl() -> None:
    import dataclasses

    from finml.bundle.ddl import _create_table
    from finml.pipelines import contracts

    gold = contracts.GOLD_BARS_1M
    wider = dataclasses.replace(
        gold, columns=(*gold.columns, contracts.Column("venue", "STRING")), partition_by=("symbol",)
    )
    parsed = parse_tables(_create_table(wider))["gold_bars_1m"]
    assert parsed[-1] == ("venue", "STRING")
    assert "PARTITIONED BY (symbol)" in _create_table(wider)
