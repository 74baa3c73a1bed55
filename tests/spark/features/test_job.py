"""build_features end to end on a tiny silver table: feature store, labels, split."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

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
    truth = _truth(trades)
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


@pytest.mark.parametrize("on_driver", [True, False], ids=["driver", "spark"])
def test_incremental_updates_equal_a_whole_history_build_and_reruns_change_nothing(
    spark, config, tables, monkeypatch, on_driver: bool
) -> None:
    """Both paths of a batch -- computed on the driver (a small batch) and by Spark (forced
    by a driver limit of 0 rows) -- equal the whole-history build, labels included."""
    from finml.features.indicators import trade_features
    from finml.jobs import features as job
    from finml.jobs.features import update_features

    if not on_driver:
        monkeypatch.setattr(job, "DRIVER_ROWS", -1)

    # Short windows, so the lookback (23 trades) is shorter than the earlier history.
    short = {"vol_windows": (5, 10), "zscore_window": 10, "stale_lookback": 20, "rsi_period": 5,
             "bollinger_period": 8, "range_window": 6, "macd_fast": 3, "macd_slow": 6,
             "macd_signal": 3, "ema_horizon": 2}  # fmt: skip
    config = config.model_copy(update={"features": short})
    settings = FeatureSettings(**short)
    assert settings.lookback_rows < 100
    trades = sample_trades(400)
    held_back = trades.index == 150  # a late trade of the first day, landing last
    first = trades[~held_back & (trades.groupby("symbol").cumcount() < 300)]
    rest = trades[~trades.index.isin(first.index)]
    truth = _truth(trades)
    tables.table("sim_truth_trades").overwrite(pa.Table.from_pandas(truth, preserve_index=False))
    silver = tables.table("silver_trades")
    silver.append(to_spark(spark, first))
    assert update_features(config, spark, tables) == 1
    silver.append(to_spark(spark, rest))
    assert update_features(config, spark, tables) == 1
    store, labels = tables.table("trade_features"), tables.table("trade_labels")
    versions = (store.version(), labels.version())
    assert update_features(config, spark, tables) == 0  # nothing new: no batch, no commit
    assert (store.version(), labels.version()) == versions

    names = feature_names(settings)
    whole = to_spark(spark, trades).transform(trade_features(settings)).toPandas()
    got = store.read().toPandas()
    assert len(got) == len(trades) and got["trade_id"].is_unique
    merged = whole.merge(got, on="trade_id", suffixes=("", "_inc"))
    for name in names:
        pd.testing.assert_series_equal(
            merged[name], merged[f"{name}_inc"], check_names=False, rtol=1e-9, atol=1e-12
        )
    assert labels.count() == len(trades)
    got_labels = labels.read().toPandas()
    expected = dict(zip(trades["trade_id"], truth["is_anomaly"], strict=True))
    assert got_labels["label"].tolist() == [expected[t] for t in got_labels["trade_id"]]
    assert set(got_labels["label_source"]) == {"sim_truth_trades"}


def _truth(trades: pd.DataFrame) -> pd.DataFrame:
    """The simulator's truth of ``trades``: every seventh one an anomaly."""
    return pd.DataFrame(
        {
            "symbol": trades["symbol"],
            "ts_ms": trades["ts"].astype("datetime64[ms]").astype("int64"),
            "price": trades["price"],
            "volume": trades["volume"],
            "is_anomaly": (trades.index % 7 == 0).astype("int8"),
        }
    )
