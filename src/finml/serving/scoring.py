"""Spark batch scoring: a Delta table of features -> rows of the ``predictions`` contract.

Interchangeable ways to run the pyfunc, chosen by ``score_method``:

* ``map_in_pandas``: each Python worker loads the model once (cached per process) and
  scores Arrow batches with ``DataFrame.mapInPandas``.
* ``spark_udf``: ``mlflow.pyfunc.spark_udf(env_manager="local")`` returning a struct.
* ``driver``: the rows are collected as Arrow and scored by the model the driver already
  loaded (:func:`predict_on_driver`); for batches of at most ``DRIVER_ROWS`` rows.
* ``auto`` (default): ``driver`` when the batch has at most ``DRIVER_ROWS`` rows (a day of
  new trades), else ``map_in_pandas``.

``benchmarks/serving.py`` measures both on this machine (see docs/serving.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from finml.errors import SchemaMismatch

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

KEYS = ("symbol", "ts", "trade_id")
# What ``with_predictions`` returns and ``predictions`` holds (sql/10_audit_tables.sql).
PREDICTIONS_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("trade_id", pa.string()),
        ("score", pa.float64()),
        ("prediction", pa.int32()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)
PREDICTION_COLUMNS = (
    "symbol",
    "ts",
    "trade_id",
    "score",
    "prediction",
    "model_name",
    "model_version",
    "scored_at",
)
_MODELS: dict[str, Any] = {}  # per Python worker: model URI -> loaded pyfunc


def require_columns(df: DataFrame, features: tuple[str, ...], table: str) -> None:
    """Raises SchemaMismatch naming the key or feature columns ``df`` lacks."""
    missing = [c for c in (*KEYS, *features) if c not in df.columns]
    if missing:
        raise SchemaMismatch(
            f"table {table}: expected key columns {list(KEYS)} and the model's features, "
            f"missing {missing}"
        )


def with_predictions(
    model_uri: str,
    features: tuple[str, ...],
    model_name: str,
    model_version: str,
    scored_at: datetime,
    *,
    method: str = "map_in_pandas",
    stores: tuple[str, str] | None = None,
) -> Callable[[DataFrame], DataFrame]:
    """A ``df.transform`` closure: keys + ``score``/``prediction`` + model and time columns.

    ``stores`` = (tracking URI, registry URI) for workers resolving ``models:/`` URIs.
    """

    def transform(df: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        inputs = df.select(*KEYS, *[F.col(f).cast("double").alias(f) for f in features])
        if method == "spark_udf":
            scored = _by_spark_udf(inputs, model_uri, features)
        else:
            scored = _by_map_in_pandas(inputs, model_uri, features, stores)
        return scored.select(
            *KEYS,
            "score",
            F.col("prediction").cast("int").alias("prediction"),
            F.lit(model_name).alias("model_name"),
            F.lit(model_version).alias("model_version"),
            F.lit(scored_at).cast("timestamp").alias("scored_at"),
        )

    return transform


def _by_map_in_pandas(
    inputs: DataFrame, model_uri: str, features: tuple[str, ...], stores: tuple[str, str] | None
) -> DataFrame:
    schema = "symbol string, ts timestamp, trade_id string, score double, prediction long"

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        model = _load_cached(model_uri, stores)
        for batch in batches:
            out = model.predict(batch[list(features)])
            yield pd.DataFrame(
                {
                    "symbol": batch["symbol"],
                    "ts": batch["ts"],
                    "trade_id": batch["trade_id"],
                    "score": out["score"].to_numpy(dtype="float64"),
                    "prediction": out["prediction"].to_numpy(dtype="int64"),
                }
            )

    return inputs.mapInPandas(predict, schema)


def _by_spark_udf(inputs: DataFrame, model_uri: str, features: tuple[str, ...]) -> DataFrame:
    import mlflow
    from pyspark.sql import functions as F

    udf = mlflow.pyfunc.spark_udf(
        inputs.sparkSession,
        model_uri,
        result_type="score double, prediction long",
        env_manager="local",
    )
    out = inputs.withColumn("_out", udf(F.struct(*[F.col(f) for f in features])))
    return out.select(*KEYS, "_out.score", "_out.prediction")


def _load_cached(model_uri: str, stores: tuple[str, str] | None) -> Any:
    if model_uri not in _MODELS:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import mlflow

        if stores is not None:
            mlflow.set_tracking_uri(stores[0])
            mlflow.set_registry_uri(stores[1])
        _MODELS[model_uri] = mlflow.pyfunc.load_model(model_uri)
    return _MODELS[model_uri]


def predict_on_driver(
    model: Any,
    rows: pa.Table,
    features: tuple[str, ...],
    model_name: str,
    model_version: str,
    scored_at: datetime,
) -> pa.Table:
    """``rows`` (keys and ``features``, an Arrow table on the driver) scored by ``model``
    (a loaded pyfunc) as :data:`PREDICTIONS_SCHEMA` rows: the same columns and values as
    :func:`with_predictions`, without a Spark job or a Python worker."""
    import numpy as np

    frame = rows.select(list(features)).to_pandas().astype("float64")
    out = model.predict(frame) if len(frame) else None
    n = rows.num_rows
    score = np.empty(0) if out is None else out["score"].to_numpy(dtype="float64")
    prediction = np.empty(0) if out is None else out["prediction"].to_numpy(dtype="int64")
    columns = {
        "symbol": rows.column("symbol"),
        "ts": rows.column("ts"),
        "trade_id": rows.column("trade_id"),
        "score": pa.array(score, pa.float64()),
        "prediction": pa.array(prediction.astype("int32"), pa.int32()),
        "model_name": pa.array([model_name] * n, pa.string()),
        "model_version": pa.array([model_version] * n, pa.string()),
        "scored_at": pa.array([scored_at] * n, pa.timestamp("us", tz="UTC")),
    }
    return pa.table(
        [columns[f.name].cast(f.type) for f in PREDICTIONS_SCHEMA], schema=PREDICTIONS_SCHEMA
    )
