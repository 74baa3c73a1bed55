"""Spark batch scoring: a Delta table of features -> rows of the ``predictions`` contract.

Two interchangeable ways to run the pyfunc on executors, chosen by ``score_method``:

* ``map_in_pandas`` (default): each Python worker loads the model once (cached per process)
  and scores Arrow batches with ``DataFrame.mapInPandas``.
* ``spark_udf``: ``mlflow.pyfunc.spark_udf(env_manager="local")`` returning a struct.

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
