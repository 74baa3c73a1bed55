"""The decision backtest on real Delta tables (delta-rs) and a real MLflow store: fills at
the next trade, the previous day's regime view, the decisions table and the MLflow run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.errors import DataError, TableNotFound

NAME = "finml_local.markets.anomaly_model"
DAY = datetime(2024, 3, 7, 15, tzinfo=UTC)  # 10:00 in New York


@pytest.fixture
def home(tmp_path):
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

    config = ProjectConfig(home=tmp_path / "home")
    return config, DeltaTables.from_config(config, None)


def _write(tables, name: str, frame: pd.DataFrame) -> None:
    tables.table(name).append(pa.Table.from_pandas(frame, preserve_index=False))


def _market(tables) -> None:
    """Thirteen trades a minute apart; trade 4 is a +1 % spike the model flags (0.95); the
    median of the next three trades fills the short at 100; trade 8 at 98 takes profit,
    filled at the median of trades 9-11, 98."""
    prices = [100.0, 100.1, 100.0, 100.1, 101.1, 100.0, 100.0, 100.0, 98.0, 98.0, 98.0, 98.0, 98.2]
    n = len(prices)
    ts = [DAY + timedelta(minutes=i) for i in range(n)]
    ids = [f"t{i}" for i in range(n)]
    _write(
        tables,
        "silver_trades",
        pd.DataFrame({"trade_id": ids, "symbol": "AAA", "price": prices, "volume": 10.0, "ts": ts}),
    )
    returns = [None, *np.diff(np.log(prices)).tolist()]
    _write(tables, "trade_features", pd.DataFrame({"trade_id": ids, "log_return": returns}))
    scores = [0.1] * n
    scores[4] = 0.95
    _write(
        tables,
        "predictions",
        pd.DataFrame(
            {
                "symbol": "AAA",
                "ts": ts,
                "trade_id": ids,
                "score": scores,
                "prediction": [int(s > 0.5) for s in scores],
                "model_name": NAME,
                "model_version": "3",
            }
        ),
    )
    states = pd.DataFrame(
        {
            "symbol": "AAA",
            "trade_date": [date(2024, 3, 6), date(2024, 3, 7)],
            "p_filtered_normal": [0.7, 0.0],
            "p_filtered_stress": [0.2, 0.0],
            "p_filtered_crisis": [0.1, 1.0],
            "p_next_normal": [0.6, 0.0],
            "p_next_stress": [0.3, 0.0],
            "p_next_crisis": [0.1, 1.0],
        }
    )
    _write(tables, "regime_states", states)


def test_the_backtest_fades_the_spike_fills_at_the_next_trade_and_logs_everything(home):
    import mlflow

    from finml.jobs.backtest import run_backtest

    config, tables = home
    _market(tables)
    report = run_backtest(config, tables)
    assert report.model_version == "3"  # no registry: the only scored version
    assert report.counts == {
        "NO_ACTION": 11,
        "RISK_REJECTED": 0,
        "EXIT_POSITION": 1,
        "TAKE_ACTION": 1,
    }
    # short 0.05 x 1,000,000 / 100 = 500 shares at 100, bought back at 98
    assert report.metrics["pnl"] == pytest.approx(1_000.0)
    assert report.metrics["win_rate"] == 1.0 and report.metrics["positions_closed"] == 1
    assert report.metrics["decisions_per_hour"] == pytest.approx(13 / (12 / 60))
    rows = tables.table("decisions").to_arrow().to_pandas().sort_values("ts")
    assert len(rows) == 13 and set(rows["run_id"]) == {report.run_id}
    exit_row = rows[rows["action"] == "EXIT_POSITION"].iloc[0]
    assert (exit_row["trade_id"], exit_row["price"]) == ("t8", 98.0)
    entry = rows[rows["action"] == "TAKE_ACTION"].iloc[0]
    assert (entry["trade_id"], entry["side"], entry["price"]) == ("t4", -1, 100.0)
    # the trade's own day is unknown at trade time: the previous day's view
    assert json.loads(entry["regime"]) == {
        "now": {"Normal": 0.7, "Stress": 0.2, "Crisis": 0.1},
        "next": {"Normal": 0.6, "Stress": 0.3, "Crisis": 0.1},
    }
    assert json.loads(entry["factors"])["regime"] == pytest.approx((0.2 + 0.25) / 2)
    run = mlflow.MlflowClient(config.mlflow_tracking_uri).get_run(report.run_id)
    assert run.data.metrics["pnl"] == pytest.approx(1_000.0)
    assert run.data.params["min_confidence"] == "0.6"
    assert run.data.tags["finml.model_version"] == "3"


def test_a_backtest_without_its_inputs_names_what_is_missing(home) -> None:
    from finml.jobs.backtest import run_backtest

    config, tables = home
    with pytest.raises(TableNotFound, match="predictions"):
        run_backtest(config, tables)
    _market(tables)
    with pytest.raises(DataError, match=r"expected rows of .* v9, got none"):
        run_backtest(config, tables, version="9")
