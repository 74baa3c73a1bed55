"""DATA_QUALITY alerts, raised by a landing built to miss silver's quality target.

A market with many bad trades (about a third of the records) is run through the medallion:
silver's quality score falls below its target (0.94). With ``on_target_miss: warn`` the run
completes and raises a MEDIUM alert naming the table and its score; with ``block`` it stops
before gold (nothing downstream is computed from it) and raises a HIGH alert.
"""

from __future__ import annotations

import json

import pytest

from finml.config import ProjectConfig
from finml.config_simulator import BadRecordRates, SimulatorConfig
from finml.jobs.data import run_pipeline, run_simulation
from finml.pipelines.quality_targets import QualityTargetMissed
from finml.runtime.delta import DeltaTables

BAD = SimulatorConfig(
    seed=31,
    symbols=["AAPL"],
    days=1,
    trades_per_day=300,
    bad_records=BadRecordRates(**{k: 0.05 for k in BadRecordRates.model_fields}),
)


def quality_alerts(tables: DeltaTables) -> list[dict]:
    alerts = tables.table("alerts")
    rows = alerts.to_arrow().to_pylist() if alerts.exists() else []
    return [a for a in rows if a["alert_type"] == "DATA_QUALITY"]


@pytest.mark.parametrize("policy", ["warn", "block"])
def test_silver_below_target_raises_a_data_quality_alert(spark, tmp_path, policy) -> None:
    config = ProjectConfig(home=tmp_path / "home", quality={"on_target_miss": policy})
    run_simulation(config, DeltaTables.from_config(config, None), BAD)
    tables = DeltaTables.from_config(config, spark)
    if policy == "warn":
        report = run_pipeline(config, spark, tables)
        misses = report.misses
        assert tables.table("gold_bars_1m").exists()  # the run went on
    else:
        with pytest.raises(QualityTargetMissed, match=r"silver_trades.*below target 0\.940") as e:
            run_pipeline(config, spark, tables)
        misses = e.value.misses
        assert not tables.table("gold_bars_1m").exists()  # gold was never computed
    assert {m.table for m in misses} == {"silver_trades"}
    (alert,) = quality_alerts(tables)
    assert alert["severity"] == ("MEDIUM" if policy == "warn" else "HIGH")
    assert alert["title"] == "silver table silver_trades below its quality target"
    details = json.loads(alert["details"])
    assert details["score"] < details["target"] == 0.94
    assert details["blocked"] is (policy == "block")
