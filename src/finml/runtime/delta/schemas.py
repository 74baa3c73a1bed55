"""Schema conversion (Spark <-> Arrow) and conformance of incoming data to a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, from_arrow_type, to_arrow_schema
from pyspark.sql.types import (
    BinaryType,
    ByteType,
    DataType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NullType,
    ShortType,
    StringType,
    StructField,
    StructType,
)

from finml.errors import SchemaMismatch

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Casts that never lose information: allowed silently when data meets a wider column.
_WIDENING: dict[type[DataType], tuple[type[DataType], ...]] = {
    ByteType: (ShortType, IntegerType, LongType),
    ShortType: (IntegerType, LongType),
    IntegerType: (LongType, DoubleType),
    FloatType: (DoubleType,),
}


def nullable(schema: StructType) -> StructType:
    """``schema`` with every top-level field nullable.

    Spark marks computed columns non-null; delta-rs would store them as NOT NULL and later
    partial-column writes and merges would fail, so tables are created nullable unless a
    caller passes an explicit schema on purpose.
    """
    return StructType([StructField(f.name, f.dataType, True, f.metadata) for f in schema])


def spark_to_arrow(schema: StructType) -> pa.Schema:
    return to_arrow_schema(schema, timezone="UTC")


def arrow_to_spark(schema: pa.Schema) -> StructType:
    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def plain_layout(table: pa.Table) -> pa.Table:
    """``table`` in the Arrow layout Spark hands out (``toArrow``): view and large string,
    binary and list types (DataFusion's reads) cast to the plain ones, nested types too, so
    a read gives the same types whichever engine served it."""
    schema = pa.schema(
        [field.with_type(_plain_type(field.type)) for field in table.schema],
        metadata=table.schema.metadata,
    )
    return table if schema.equals(table.schema) else table.cast(schema)


_LIST_TYPES = (pa.ListType, pa.LargeListType, pa.ListViewType, pa.LargeListViewType)


def _plain_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.string()
    if pa.types.is_binary_view(arrow_type) or pa.types.is_large_binary(arrow_type):
        return pa.binary()
    if isinstance(arrow_type, _LIST_TYPES):
        field = arrow_type.value_field
        return pa.list_(field.with_type(_plain_type(field.type)))
    if isinstance(arrow_type, pa.MapType):
        return pa.map_(
            arrow_type.key_field.with_type(_plain_type(arrow_type.key_type)),
            arrow_type.item_field.with_type(_plain_type(arrow_type.item_type)),
        )
    if isinstance(arrow_type, pa.StructType):
        return pa.struct([f.with_type(_plain_type(f.type)) for f in arrow_type])
    return arrow_type


def arrow_nullable(table: pa.Table) -> pa.Table:
    """Cast ``table`` so every field is nullable (see :func:`nullable`)."""
    fields = [field.with_nullable(True) for field in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def conform(
    df: DataFrame, target: StructType, table: str, *, allow_new_columns: bool
) -> tuple[DataFrame, list[StructField]]:
    """Align ``df`` with the table schema ``target``.

    Columns the table has but ``df`` lacks become typed nulls; widening casts (int->long,
    float->double, null->anything) are applied; new columns are kept at the end when
    ``allow_new_columns``.

    Returns:
        The aligned DataFrame and the list of new fields (empty unless evolving).

    Raises:
        SchemaMismatch: a column has an incompatible type, or new columns arrive without
            schema evolution — the message names the table and each column.
    """
    incoming = {f.name.lower(): f for f in df.schema}
    problems: list[str] = []
    columns = []
    for field in target:
        source = incoming.pop(field.name.lower(), None)
        if source is None:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
        elif source.dataType == field.dataType:
            columns.append(F.col(source.name).alias(field.name))
        elif _widens(source.dataType, field.dataType):
            columns.append(F.col(source.name).cast(field.dataType).alias(field.name))
        else:
            problems.append(
                f"column {field.name!r}: expected {field.dataType.simpleString()}, "
                f"got {source.dataType.simpleString()}"
            )
    new_fields = [StructField(f.name, f.dataType, True) for f in incoming.values()]
    if new_fields and not allow_new_columns:
        names = ", ".join(repr(f.name) for f in new_fields)
        problems.append(f"new columns {names} not in the table (enable schema evolution)")
    if problems:
        raise SchemaMismatch(f"table {table}: " + "; ".join(problems))
    columns.extend(F.col(f.name) for f in new_fields)
    return df.select(*columns), new_fields


def _widens(source: DataType, target: DataType) -> bool:
    if isinstance(source, NullType):
        return True
    return any(isinstance(target, wider) for wider in _WIDENING.get(type(source), ()))


def align_arrow(data: pa.Table, target: pa.Schema, table: str, evolve: bool) -> pa.Table:
    """Order, cast and fill ``data`` to ``target``; new columns only when ``evolve``."""
    names = {name.lower(): name for name in data.column_names}
    arrays, fields, problems = [], [], []
    for field in target:
        name = names.pop(field.name.lower(), None)
        if name is None:
            arrays.append(pa.nulls(data.num_rows, field.type))
        else:
            column = _cast_arrow(data.column(name), field.type)
            if column is None:
                source = data.schema.field(name).type
                expected, got = _spark_type_name(field.type), _spark_type_name(source)
                lossy = " (values would lose precision)" if expected == got else ""
                problems.append(f"column {field.name!r}: expected {expected}, got {got}{lossy}")
                continue
            arrays.append(column)
        fields.append(field.with_nullable(True))
    if names and not evolve:
        problems.append(
            f"new columns {sorted(names.values())} not in the table (enable schema evolution)"
        )
    if problems:
        raise SchemaMismatch(f"table {table}: " + "; ".join(problems))
    for name in names.values():
        arrays.append(data.column(name))
        fields.append(data.schema.field(name).with_nullable(True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _spark_type(arrow_type: pa.DataType) -> DataType | None:
    if pa.types.is_string_view(arrow_type):  # DataFusion's reads; PySpark has no mapping
        return StringType()
    if pa.types.is_binary_view(arrow_type):
        return BinaryType()
    try:
        return from_arrow_type(arrow_type, prefer_timestamp_ntz=False)
    except (TypeError, ValueError, NotImplementedError):
        return None  # no Spark equivalent (e.g. a dictionary of structs)


def _spark_type_name(arrow_type: pa.DataType) -> str:
    spark_type = _spark_type(arrow_type)
    return spark_type.simpleString() if spark_type is not None else str(arrow_type)


def _cast_arrow(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    """``column`` as ``target`` under the Spark path's policy (:func:`conform`): the same
    Spark type in another Arrow layout (string / large_string, timestamp units and zones)
    or a widening cast; anything else -- narrowing, lossy or cross-kind -- is refused
    (None). A layout change that would lose values (ns -> us with sub-microsecond parts)
    is refused too."""
    if column.type == target:
        return column
    source_spark, target_spark = _spark_type(column.type), _spark_type(target)
    if source_spark is None or target_spark is None:
        return None
    if (
        pa.types.is_null(column.type)
        or source_spark == target_spark
        or _widens(source_spark, target_spark)
    ):
        try:
            return column.cast(target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return None
