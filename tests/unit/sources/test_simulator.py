"""The market simulator and its landing-zone files (no Spark)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, DriftScenario, SimulatorConfig
from finml.errors import ConfigError
from finml.sources.landing_writer import LandingManifest
from finml.sources.simulator import simulate, write_landing

SMALL = SimulatorConfig(seed=5, symbols=["AAPL", "MSFT"], days=12, trades_per_day=400)


@pytest.fixture(scope="module")
def small():
    return simulate(SMALL)


def test_same_seed_same_data_and_bytes(small, tmp_path: Path) -> None:
    again = simulate(SMALL)
    pd.testing.assert_frame_equal(small.trades, again.trades)
    pd.testing.assert_frame_equal(small.truth_trades, again.truth_trades)
    write_landing(small, tmp_path / "a", SMALL)
    write_landing(again, tmp_path / "b", SMALL)
    for file in sorted((tmp_path / "a").rglob("*.*")):
        assert file.read_bytes() == (tmp_path / "b" / file.relative_to(tmp_path / "a")).read_bytes()
    other = simulate(SMALL.model_copy(update={"seed": 6}))
    assert not other.trades["price"].equals(small.trades["price"])


def test_regime_volatility_is_ordered_normal_stress_crisis() -> None:
    config = SimulatorConfig(
        seed=1, symbols=["AAPL"], days=120, trades_per_day=300, anomaly_rate=0.0
    )
    result = simulate(config)
    daily = result.daily_bars.assign(regime=result.regime_path)
    daily["ret"] = np.log(daily["close"]).diff()
    vol = daily.groupby("regime")["ret"].std()
    assert set(result.regime_path) == {0, 1, 2}
    assert vol[0] < vol[1] < vol[2]


def test_sessions_follow_new_york_time_across_dst(small) -> None:
    summer = simulate(
        SimulatorConfig(
            seed=2, symbols=["AAPL"], start_date=date(2024, 7, 8), days=2, trades_per_day=300
        )
    )
    for result in (small, summer):
        local = pd.to_datetime(result.trades["ts_ms"], unit="ms", utc=True).dt.tz_convert(
            "America/New_York"
        )
        minute = local.dt.hour * 60 + local.dt.minute
        expected = np.where(minute < 570, "pre", np.where(minute < 960, "regular", "post"))
        assert (result.trades["session"].to_numpy() == expected).all()
        assert minute.min() >= 240 and minute.max() < 1200
        assert (local.dt.dayofweek < 5).all()
        assert (result.trades["session"] == "regular").mean() > 0.7


def test_anomalies_are_labelled_at_the_configured_rate(small) -> None:
    truth = small.truth_trades
    assert len(truth) == len(small.trades)
    assert 0.005 < truth["is_anomaly"].mean() < 0.04  # 1 % seeds; bursts add clusters
    labelled = set(truth.loc[truth["is_anomaly"] == 1, "anomaly_type"])
    assert labelled == {"price_spike", "volume_burst", "fat_finger", "stale_print", "trade_burst"}
    assert truth.loc[truth["is_anomaly"] == 0, "anomaly_type"].isna().all()
    fat = truth["anomaly_type"] == "fat_finger"
    median = small.trades["price"].median()
    assert (
        (small.trades.loc[fat, "price"] > 3 * median)
        | (small.trades.loc[fat, "price"] < median / 3)
    ).mean() > 0.5


def test_legit_prints_are_unique_and_positive(small) -> None:
    key = ["symbol", "ts_ms", "price", "volume"]
    assert not small.trades.duplicated(key).any()
    assert (small.trades["price"] > 0).all() and (small.trades["volume"] >= 1).all()
    assert small.trades["ts_ms"].is_monotonic_increasing


def test_every_bad_record_kind_lands_and_matches_the_manifest(tmp_path: Path) -> None:
    rates = BadRecordRates(**{k: 0.01 for k in BadRecordRates.model_fields})
    config = SMALL.model_copy(update={"bad_records": rates})
    result = simulate(config)
    manifest = write_landing(result, tmp_path, config)
    assert LandingManifest.from_json((tmp_path / "_manifest.json").read_text()) == manifest
    assert all(n > 0 for n in manifest.bad_counts.values())
    seen: dict[str, int] = {}
    records = 0
    for file, number, kind in manifest.bad_records:
        line = (tmp_path / file).read_text().splitlines()[number - 1]
        seen[kind] = seen.get(kind, 0) + 1
        if kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        else:
            element = json.loads(line)["data"][0]
            assert _kind_holds(kind, element), (kind, element)
    for file in sorted((tmp_path / "trades").glob("*.jsonl")):
        for line in file.read_text().splitlines():
            try:
                records += len(json.loads(line)["data"])
            except json.JSONDecodeError:
                records += 1
    assert seen == {k: v for k, v in manifest.bad_counts.items() if k != "out_of_order"}
    assert records == manifest.records
    assert manifest.records == manifest.legit_trades + sum(
        v for k, v in manifest.bad_counts.items() if k != "out_of_order"
    )


def _kind_holds(kind: str, element: dict) -> bool:
    p = element.get("p")
    return {
        "wrong_type": isinstance(p, str) or isinstance(element.get("v"), str),
        "nonpositive_price": isinstance(p, int | float) and p <= 0,
        "nan_inf": isinstance(p, float) and not np.isfinite(p),
        "missing_symbol": not element.get("s"),
        "future_timestamp": element["t"] > 4_000_000_000_000,
        "duplicate_trade": True,
    }[kind]


def test_out_of_order_trades_arrive_in_a_later_file(tmp_path: Path) -> None:
    only_late = {k: 0.0 for k in BadRecordRates.model_fields} | {"out_of_order": 0.02}
    config = SMALL.model_copy(update={"bad_records": BadRecordRates(**only_late)})
    result = simulate(config)
    write_landing(result, tmp_path, config)
    late = 0
    for file in sorted((tmp_path / "trades").glob("*.jsonl")):
        file_day = date.fromisoformat(file.stem.removeprefix("trades_"))
        for line in file.read_text().splitlines():
            for trade in json.loads(line)["data"]:
                local = pd.Timestamp(trade["t"], unit="ms", tz="UTC").tz_convert("America/New_York")
                late += local.date() < file_day
    assert late > 0


def test_drift_scenario_raises_volatility_after_its_day() -> None:
    base = SimulatorConfig(
        seed=3,
        symbols=["AAPL"],
        days=40,
        trades_per_day=300,
        anomaly_rate=0.0,
        transition=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    )
    drifted = simulate(
        base.model_copy(update={"drift": DriftScenario(start_day=20, vol_multiplier=3.0)})
    )
    returns = np.log(drifted.daily_bars["close"]).diff()
    assert returns[21:].std() > 2 * returns[1:20].std()


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"symbols": []}, "symbols"),
        ({"symbols": ["aapl"]}, "symbols"),
        ({"symbols": ["A", "A"]}, "symbols"),
        ({"days": 0}, "days"),
        ({"transition": [[0.5, 0.5, 0.5], [0, 1, 0], [0, 0, 1]]}, "transition"),
        ({"anomaly_rate": 2}, "anomaly_rate"),
        ({"anomaly_weights": {"typo": 1}}, "anomaly_weights"),
        ({"drift": {"start_day": 99}}, "drift.start_day"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_simulator_config_names_the_field(update: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SimulatorConfig.model_validate({**SMALL.model_dump(), **update})
    assert field.split(".")[0] in str(info.value)


def test_bad_simulator_section_fails_config_loading(tmp_path: Path) -> None:
    path = tmp_path / "project_config.yml"
    path.write_text("simulator:\n  days: -3\n")
    with pytest.raises(ConfigError, match=r"field 'simulator.days'"):
        ProjectConfig.from_yaml(path)
