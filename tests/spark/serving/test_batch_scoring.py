"""``score_table``: Spark batch scoring of a Delta table into ``predictions``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import mlflow
import numpy as np
import pyarrow as pa
import pytest

from finml.bundle.ddl import code_columns
from finml.errors import SchemaMismatch
from finml.jobs.serving import score_table
from finml.runtime.delta import DeltaTables
from finml.serving.sample_model import SAMPLE_FEATURES, synthetic_rows
from finml.serving.scoring import PREDICTIONS_SCHEMA

ROWS = 60


def write_test_set(tables: DeltaTables, drop: str | None = None) -> pa.Table:
    frame = synthetic_rows(ROWS, seed=11)
    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    frame.insert(0, "trade_id", [f"t{i:03d}" for i in range(ROWS)])
    frame.insert(0, "ts", [start + timedelta(seconds=i) for i in range(ROWS)])
    frame.insert(0, "symbol", ["AAPL", "MSFT", "NVDA"] * (ROWS // 3))
    frame["_feature_table_version"] = 3
    if drop:
        frame = frame.drop(columns=[drop])
    data = pa.Table.from_pandas(frame, preserve_index=False)
    tables.table("test_set").overwrite(data)
    return data


@pytest.mark.parametrize(
    ("method", "driver_rows", "ran"),
    [
        ("map_in_pandas", None, "map_in_pandas"),
        ("spark_udf", None, "spark_udf"),
        ("driver", None, "driver"),
        ("auto", None, "driver"),
        ("auto", ROWS - 1, "map_in_pandas"),  # one row too many for the driver
    ],
)
def test_scores_every_row_like_the_model(
    scoring_config, spark, monkeypatch, method: str, driver_rows: int | None, ran: str
) -> None:
    """Every path gives the model's own scores; ``auto`` scores a batch this small on the
    driver, a larger one with ``map_in_pandas``, and the report names the path that ran."""
    from finml.runtime.delta import base

    if driver_rows is not None:
        monkeypatch.setattr(base, "DRIVER_ROWS", driver_rows)
    tables = DeltaTables.from_config(scoring_config, spark)
    source = write_test_set(tables)
    report = score_table(scoring_config, spark, tables, "test_set", method=method)
    assert (report.rows, report.model_version, report.source_version) == (ROWS, "1", 0)
    assert report.method == ran
    out = tables.table("predictions").read()
    assert code_columns(out.schema) == code_columns(PREDICTIONS_SCHEMA)
    got = out.toPandas().sort_values("trade_id").reset_index(drop=True)
    model = mlflow.pyfunc.load_model(f"models:/{report.model_name}/1")
    expected = model.predict(source.to_pandas()[list(SAMPLE_FEATURES)])
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-12)
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    assert set(got["model_name"]) == {"finml_local.markets.anomaly_model"}
    assert got["symbol"].tolist() == source.column("symbol").to_pylist()


def test_missing_feature_is_named(scoring_config, spark) -> None:
    tables = DeltaTables.from_config(scoring_config, spark)
    write_test_set(tables, drop="gap_z")
    with pytest.raises(SchemaMismatch, match="gap_z"):
        score_table(scoring_config, spark, tables, "test_set")


def test_each_trade_is_scored_once_per_model_version_however_often_the_job_runs(
    scoring_config, spark
) -> None:
    tables = DeltaTables.from_config(scoring_config, spark)
    write_test_set(tables)
    first = score_table(scoring_config, spark, tables, "test_set")
    predictions = tables.table("predictions")
    after_first = predictions.version()
    again = score_table(scoring_config, spark, tables, "test_set")
    # Nothing new: no row, no commit.
    assert (first.rows, again.rows) == (ROWS, 0)
    assert predictions.version() == after_first
    # More rows arrive (the first ten again, as an overlapping feature build would send
    # them, plus five new): only the five are scored and written.
    grown = write_test_set(tables).to_pandas()
    extra = grown.head(5).assign(trade_id=[f"n{i}" for i in range(5)])
    tables.table("test_set").append(pa.Table.from_pandas(extra, preserve_index=False))
    third = score_table(scoring_config, spark, tables, "test_set")
    assert third.rows == 5
    keys = predictions.read().groupBy("trade_id", "model_name", "model_version").count()
    assert keys.count() == ROWS + 5 and keys.where("count > 1").count() == 0
