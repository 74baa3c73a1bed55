"""The SQL DDL in ``sql/``: parse ``CREATE TABLE`` column lists, compare them with code schemas.

A test keeps ``sql/10_audit_tables.sql`` equal to the schemas the code writes (Arrow or Spark),
so the Unity Catalog tables an operator creates are the tables the jobs append to.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from finml.errors import JobError
from finml.names import validate_identifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

    from finml.pipelines.contract import TableContract

_CREATE = re.compile(
    r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([\w.${}]+)\s*\((.*?)\)\s*USING\s+DELTA",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"--[^\n]*")


def parse_tables(sql: str) -> dict[str, list[tuple[str, str]]]:
    """``{table: [(column, TYPE), ...]}`` for every ``CREATE TABLE IF NOT EXISTS ... USING DELTA``.

    Table names are the last part of the (possibly ``${catalog}.${schema}.``-qualified) name;
    types are upper-case without spaces (``MAP<STRING,BIGINT>``).

    Raises:
        JobError: a column definition cannot be read.
    """
    tables: dict[str, list[tuple[str, str]]] = {}
    for name, body in _CREATE.findall(_COMMENT.sub("", sql)):
        table = name.split(".")[-1]
        tables[table] = [_column(part, table) for part in _split(body) if part.strip()]
    return tables


def _split(body: str) -> list[str]:
    """Split on commas outside ``<...>``, ``(...)`` and quoted comments."""
    parts, depth, current, quoted = [], 0, "", False
    for char in body:
        quoted ^= char == "'"
        depth += not quoted and char in "<("
        depth -= not quoted and char in ">)"
        if char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _column(text: str, table: str) -> tuple[str, str]:
    text = re.split(r"\s+COMMENT\s+", text.strip(), flags=re.IGNORECASE)[0]
    text = re.sub(r"\s+NOT\s+NULL$", "", text, flags=re.IGNORECASE)
    match = re.fullmatch(r"`?(\w+)`?\s+(.+)", text.strip(), flags=re.DOTALL)
    if not match:
        raise JobError(f"DDL of {table}: expected '<column> <type>', got {text.strip()!r}")
    return match.group(1), re.sub(r"\s+", "", match.group(2)).upper()


def code_columns(schema: pa.Schema | StructType) -> list[tuple[str, str]]:
    """``[(column, TYPE)]`` of a pyarrow ``Schema`` or a Spark ``StructType``."""
    import pyarrow as pa

    if isinstance(schema, pa.Schema):
        return [(f.name, arrow_sql_type(f.type).upper()) for f in schema]
    return [(f.name, f.dataType.simpleString().upper()) for f in schema.fields]


def arrow_sql_type(dtype: Any) -> str:
    """The Spark SQL type Delta stores for an Arrow type (``int64`` -> ``BIGINT``)."""
    import pyarrow as pa
    import pyarrow.types as t

    simple = {
        pa.string(): "STRING",
        pa.large_string(): "STRING",
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INT",
        pa.int64(): "BIGINT",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
        pa.binary(): "BINARY",
    }
    if dtype in simple:
        return simple[dtype]
    if t.is_timestamp(dtype):
        return "TIMESTAMP" if dtype.tz else "TIMESTAMP_NTZ"
    if t.is_map(dtype):
        return f"MAP<{arrow_sql_type(dtype.key_type)},{arrow_sql_type(dtype.item_type)}>"
    if t.is_struct(dtype):
        fields = ",".join(f"{f.name}:{arrow_sql_type(f.type)}" for f in dtype)
        return f"STRUCT<{fields}>"
    if t.is_list(dtype) or t.is_large_list(dtype):
        return f"ARRAY<{arrow_sql_type(dtype.value_type)}>"
    raise JobError(f"arrow type: expected one FinML stores in Delta, got {dtype}")


def render(sql: str, catalog: str, schema: str) -> str:
    """``sql`` with ``${catalog}``/``${schema}`` replaced by validated identifiers."""
    catalog = validate_identifier(catalog, "catalog")
    schema = validate_identifier(schema, "schema")
    return sql.replace("${catalog}", catalog).replace("${schema}", schema)


MEDALLION_DDL = "sql/20_medallion_tables.sql"


def medallion_ddl() -> str:
    """The Unity Catalog DDL of the medallion tables, generated from their contracts
    (:mod:`finml.pipelines.contracts`): what ``sql/20_medallion_tables.sql`` must hold."""
    from finml.pipelines.contracts import MEDALLION

    header = [
        "-- Medallion tables (bronze, silver, gold) of the ingestion job's `medallion` task.",
        "-- GENERATED from finml.pipelines.contracts by `finml bundle ddl --write`: do not",
        "-- edit by hand (tests/unit/bundle/test_ddl.py fails when the two differ).",
        "-- Run after 00_catalog.sql with the same ${catalog} / ${schema}. The runner creates the",
        "-- tables on first write too; the declarative pipeline publishes its own copies in",
        "-- ${schema}_dlt (resources/medallion_pipeline.yml).",
    ]
    return "\n".join(header) + "\n" + "".join(_create_table(c) for c in MEDALLION)


def _create_table(contract: TableContract) -> str:
    """``CREATE TABLE`` of one contract, preceded by its keys, writer and rules as comments."""
    lines = ["", f"-- {contract.name}: written by {contract.written_by or 'the runner'}"]
    if contract.keys:
        lines.append(f"-- keys: {', '.join(contract.keys)}")
    if contract.quarantine_of:
        lines.append(f"-- rows failing a quarantine rule of {contract.quarantine_of}")
    lines += [f"-- rule {r.name} ({r.action}): {r.condition}" for r in contract.expectations]
    lines.append(f"CREATE TABLE IF NOT EXISTS ${{catalog}}.${{schema}}.{contract.name} (")
    columns = [
        f"  {c.name} {c.type}" + (f" COMMENT '{c.comment}'" if c.comment else "")
        for c in contract.columns
    ]
    lines.append(",\n".join(columns))
    tail = f") USING DELTA COMMENT '{contract.comment}'"
    if contract.partition_by:
        tail += f" PARTITIONED BY ({', '.join(contract.partition_by)})"
    lines.append(tail + ";")
    return "\n".join(lines) + "\n"
