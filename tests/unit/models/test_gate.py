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


def two_kinds_of_model(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a top-heavy model (half the anomalies ranked first, the rest random:
    the better PR-AUC) and a broad one (every anomaly shifted up: the better ROC-AUC)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(ROWS) < 0.05).astype(int)
    top = y.astype(bool) & (rng.random(ROWS) < 0.5)
    top_heavy = rng.random(ROWS)
    top_heavy[top] = 2 + rng.random(top.sum())
    return y, top_heavy, rng.normal(size=ROWS) + 1.6 * y


@pytest.mark.parametrize(
    ("metric", "winner"), [("pr_auc", "top_heavy"), ("roc_auc", "broad")]
)  # fmt: skip
def test_the_gate_compares_on_the_primary_metric(metric: str, winner: str) -> None:
    from sklearn.metrics import roc_auc_score

    y, top_heavy, broad = two_kinds_of_model(21)
    models = {"top_heavy": top_heavy, "broad": broad}
    loser = next(name for name in models if name != winner)
    on = ChampionChallenger(GateSettings(bootstrap=200), metric)
    kwargs = {"model_name": "m", "challenger_version": 2, "champion_version": 1}
    promoted = on.decide(y, models[winner], models[loser], **kwargs)
    assert promoted.decision == GateDecision.PROMOTE and promoted.metric == metric
    assert promoted.reasons[0].startswith(metric)
    rejected = on.decide(y, models[loser], models[winner], **kwargs)
    assert rejected.decision == GateDecision.REJECT
    if metric == "roc_auc":
        assert promoted.challenger_metric == pytest.approx(roc_auc_score(y, broad))


def test_primary_metric_must_be_one_the_gate_can_compare() -> None:
    assert ModelSettings(primary_metric="recall_at_fpr").primary_metric == "recall_at_fpr"
    with pytest.raises(ConfigError, match="expected a ranking metric"):
        ModelSettings.from_config(type("C", (), {"models": {"primary_metric": "f1"}})())
