"""ChampionChallenger: noise never promotes, a real improvement does, no champion auto-promotes."""

from __future__ import annotations

import numpy as np
import pytest

from finml.errors import ConfigError
from finml.models.gate import ChampionChallenger
from finml.models.settings import GateSettings, ModelSettings
from finml.models.validator import Check, ValidationReport
from finml.vocabulary import GateDecision

ROWS = 4000
gate = ChampionChallenger(GateSettings(bootstrap=300))


def market(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (5% anomalies), a noisy signal of them and a good model's probabilities."""
    y = (rng.random(ROWS) < 0.05).astype(int)
    signal = y * 1.5 + rng.normal(size=ROWS)
    return y, signal, 1 / (1 + np.exp(-(signal - 2)))


def decide(y, challenger, champion, **kwargs):
    return gate.decide(
        y, challenger, champion, model_name="m", challenger_version=2, champion_version=1, **kwargs
    )


def test_noise_does_not_promote() -> None:
    rng = np.random.default_rng(11)
    y, _, good = market(rng)
    jitter = good + rng.normal(0, 0.01, ROWS)  # a re-run with noise
    decision = decide(y, jitter, good)
    assert decision.decision == GateDecision.REJECT
    assert decision.ci_low < 0.002 and "expected CI low >= min improvement" in decision.reasons[0]


def test_a_clearly_better_challenger_is_promoted_with_numbers() -> None:
    rng = np.random.default_rng(12)
    y, signal, good = market(rng)
    weaker = 1 / (1 + np.exp(-(0.4 * signal + rng.normal(size=ROWS) - 2)))
    decision = decide(y, good, weaker)
    assert decision.decision == GateDecision.PROMOTE
    assert decision.ci_low >= 0.002
    expected = decision.challenger_metric - decision.champion_metric
    assert decision.improvement == pytest.approx(expected)
    assert decide(y, weaker, good).decision == GateDecision.REJECT


def test_no_champion_auto_promotes_unless_validation_failed() -> None:
    y, _, good = market(np.random.default_rng(13))
    first = gate.decide(y, good, None, model_name="m", challenger_version=1)
    assert first.decision == GateDecision.PROMOTE and "auto-promote" in first.reasons[0]
    failed = ValidationReport("models:/m/1", [Check("latency", False, "one row p50 900 ms")])
    rejected = gate.decide(y, good, None, model_name="m", challenger_version=1, validation=failed)
    assert (
        rejected.decision == GateDecision.REJECT
        and "latency: one row p50 900 ms" in rejected.reasons[0]
    )


def test_audit_row_has_flat_columns() -> None:
    y, _, good = market(np.random.default_rng(14))
    row = decide(y, good, good).audit_row()
    assert row["challenger_version"] == "2" and row["champion_version"] == "1"
    assert isinstance(row["reasons"], str) and row["decision"] == GateDecision.REJECT
    assert type(row["decision"]) is str  # a plain str for Arrow and Delta


def test_settings_reject_impossible_values_naming_the_field() -> None:
    class Config:
        models = {"gate": {"confidence": 1.5}, "folds": 1}

    with pytest.raises(ConfigError, match=r"models\.gate\.confidence.*got 1\.5") as info:
        ModelSettings.from_config(Config())
    assert "models.folds" in str(info.value)
