"""Quality targets: which batches scored below their layer's target."""

from __future__ import annotations

import pytest

from finml.errors import ConfigError
from finml.pipelines.quality import QualityRecord
from finml.pipelines.quality_targets import target_misses
from finml.pipelines.settings import QualitySettings


def record(layer: str, validity: float, rows_in: int = 100) -> QualityRecord:
    return QualityRecord(
        run_id="r",
        layer=layer,
        table_name=f"{layer}_t",
        source_version=3,
        rows_in=rows_in,
        rows_out=rows_in,
        validity=validity,
        stage="s",
        batch_id=2,
    )


def test_a_batch_below_its_layers_target_is_a_miss() -> None:
    settings = QualitySettings()  # bronze 0.85, silver 0.94, gold 0.98
    records = [
        record("silver", 0.85),  # score 0.95: above 0.94
        record("silver", 0.80),  # score 0.933...: a miss
        record("gold", 0.96),  # score 0.9866: above 0.98
        record("gold", 0.90),  # score 0.9666: a miss
        record("bronze", 0.0, rows_in=0),  # nothing came in: nothing to judge
    ]
    misses = target_misses(records, settings)
    assert [(m.layer, round(m.score, 4), m.target) for m in misses] == [
        ("silver", 0.9333, 0.94),
        ("gold", 0.9667, 0.98),
    ]
    assert "silver table silver_t (stage s, batch 2): quality score 0.933 below target 0.940" in (
        str(misses[0])
    )
    strict = QualitySettings(targets={"silver": 0.99})
    assert [m.layer for m in target_misses(records, strict)] == ["silver", "silver"]


def test_bad_targets_are_named() -> None:
    with pytest.raises(ConfigError, match=r"targets.*expected a score in \[0, 1\], got 1.5"):
        QualitySettings.from_section({"targets": {"silver": 1.5}})
    with pytest.raises(ConfigError, match=r"targets\.platinum"):
        QualitySettings.from_section({"targets": {"platinum": 0.5}})
    with pytest.raises(ConfigError, match="on_target_miss"):
        QualitySettings.from_section({"on_target_miss": "ignore"})
