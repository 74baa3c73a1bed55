"""build_features end to end on a tiny silver table: feature store, labels, split."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from finml.features import feature_columns
from finml.features.indicators import feature_names
from finml.features.settings import FeatureSettings
from finml.jobs.features import build_features

from .test_indicators import sample_trades, to_spark


def test_build_features_writes_point_in_time_train_and_test_sets(spark, config, tables) -> None:
    trades = sample_trades(60)
    tables.table("silver_trades").overwrite(to_spark(spark, trades))
    report = build_features(config, spark, tables)
    assert report.label_source.startswith("rule")  # no simulator truth yet
    assert "return_z" not in report.features and "volume_z" not in report.features
    truth = pd.DataFrame(
        {
            "symbol": trades["symbol"],
            "ts_ms": trades["ts"].astype("datetime64[ms]").astype("int64"),
            "price": trades["price"],
            "volume": trades["volume"],
            "is_anomaly": (trades.index % 7 == 0).astype("int8"),
        }
    )
    tables.table("sim_truth_trades").overwrite(pa.Table.from_pandas(truth, preserve_index=False))
    report = build_features(config, spark, tables)
    assert report.label_source == "sim_truth_trades"
    assert report.unlabelled == 0 and report.feature_rows == len(trades)
    assert report.train_rows + report.test_rows == len(trades)
    assert abs(report.label_rate - truth["is_anomaly"].mean()) < 1e-9
    train = tables.table("train_set").read()
    test = tables.table("test_set").read()
    assert set(feature_columns(test)) == set(feature_names(FeatureSettings()))
    assert dict(train.dtypes)["label"] == "int"
    versions = {r[0] for r in train.select("_feature_table_version").distinct().collect()}
    assert versions == {report.feature_table_version}
    last_train = train.agg({"_trade_date": "max"}).first()[0]
    assert last_train < test.agg({"_trade_date": "min"}).first()[0] == report.cutoff
