"""Promotion through evidence on a real MLflow store and real Delta tables (delta-rs): a
holdout-approved challenger goes through a replay A/B on the latest labelled day; a better one
is promoted, one the replay shows worse is archived; a first model is promoted by the gate
alone; a manual promotion is audited as such. Aliases champion, challenger and
previous-champion stay set throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lifecycle_helpers import register_model, rows, write_feature_store

from finml.config import ProjectConfig
from finml.models.data import split_from_frame
from finml.models.promotion import gate
from finml.models.settings import GateSettings, ModelSettings, ReplayABSettings
from finml.models.validator import Check, ValidationReport
from finml.registry import (
    ANOMALY_MODEL,
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    by_alias,
    model_name,
)
from finml.runtime.delta import DeltaTables
from finml.vocabulary import GateDecision

SETTINGS = ModelSettings(
    gate=GateSettings(bootstrap=100), replay_ab=ReplayABSettings(challenger_percent=50.0)
)
PASSED = ValidationReport("models:/m/1", [Check("signature", True, "ok")])


@pytest.fixture
def home(tmp_path: Path):
    config = ProjectConfig(home=tmp_path / "home")
    return config, DeltaTables.from_config(config, None), model_name(config, ANOMALY_MODEL)


def _gate(config, tables, name, version, holdout_signal, settings=SETTINGS):
    holdout = split_from_frame(rows(1500, seed=5, signal=holdout_signal), "test_set")
    return gate(config, tables, settings, name, version, holdout, PASSED)


def _audit(tables) -> list[dict]:
    rows_ = tables.table("champion_challenger_audit").to_arrow().to_pylist()
    return sorted(rows_, key=lambda r: r["decided_at"])


def test_a_first_model_is_promoted_by_the_gate_alone(home) -> None:
    config, tables, name = home
    v1 = register_model(config, "f1")
    first = _gate(config, tables, name, v1, "f0")
    assert first.decision == GateDecision.PROMOTE and first.ab_test_id is None
    assert not tables.table("ab_tests").exists()
    champion = by_alias(config, name, CHAMPION)
    assert champion.version == v1 and by_alias(config, name, CHALLENGER).version == v1
    assert champion.tags["finml.promotion_kind"] == "gate"
    assert champion.tags["finml.rollback_check"] == "pending"
    again = _gate(config, tables, name, v1, "f0")  # re-gating the champion: REJECT
    assert again.decision == GateDecision.REJECT and "already the champion" in again.reasons[0]
    assert by_alias(config, name, CHAMPION).tags["finml.archived"] == "false"  # not archived


def test_replay_ab_promotes_a_better_challenger(home) -> None:
    config, tables, name = home
    write_feature_store(tables, rows(2000, seed=1, signal="f0"))  # the replay day: f0 matters
    v1 = register_model(config, "f1")  # the champion scores by the wrong feature
    _gate(config, tables, name, v1, "f0")
    v2 = register_model(config, "f0")
    decision = _gate(config, tables, name, v2, "f0")

    assert (
        decision.decision == GateDecision.PROMOTE
        and decision.holdout_decision == GateDecision.PROMOTE
    )
    assert by_alias(config, name, CHAMPION).version == v2
    assert by_alias(config, name, PREVIOUS).version == v1
    assert by_alias(config, name, CHALLENGER).version == v2  # kept on the last challenger
    (ab,) = tables.table("ab_tests").to_arrow().to_pylist()
    assert ab["test_id"] == decision.ab_test_id
    assert ab["decision"] == "promote_challenger"
    assert (ab["champion_versions"], ab["challenger_versions"]) == (str(v1), str(v2))
    assert 800 < ab["challenger_n"] < 1200 and ab["champion_n"] + ab["challenger_n"] == 2000
    assert ab["inference_log_version"] is None and ab["labels_table"].endswith("trade_labels")
    assert "replay A/B" in ab["reason"] and "2026-03-02" in ab["reason"]
    last = _audit(tables)[-1]
    assert (last["decision"], last["holdout_decision"]) == (
        GateDecision.PROMOTE,
        GateDecision.PROMOTE,
    )
    assert last["ab_test_id"] == ab["test_id"]
    champion = by_alias(config, name, CHAMPION)
    assert champion.tags["finml.promotion_kind"] == "replay_ab"
    assert champion.tags["finml.promotion_event"] == last["event_id"]


def test_replay_ab_rejects_a_challenger_the_latest_day_shows_worse(home) -> None:
    config, tables, name = home
    write_feature_store(tables, rows(2000, seed=2, signal="f1"))  # the market moved to f1
    v1 = register_model(config, "f1")
    _gate(config, tables, name, v1, "f1")
    v2 = register_model(config, "f0")  # better on the (older) holdout, worse on the replay day
    decision = _gate(config, tables, name, v2, "f0")

    assert (
        decision.holdout_decision == GateDecision.PROMOTE
        and decision.decision == GateDecision.REJECT
    )
    assert not decision.promoted
    assert by_alias(config, name, CHAMPION).version == v1
    assert by_alias(config, name, PREVIOUS) is None
    challenger = by_alias(config, name, CHALLENGER)
    assert challenger.version == v2 and challenger.tags["finml.archived"] == "true"
    assert "significantly worse" in challenger.tags["finml.archived_reason"]
    (ab,) = tables.table("ab_tests").to_arrow().to_pylist()
    assert ab["decision"] == "keep_champion" and ab["recall_z"] < 0
    last = _audit(tables)[-1]
    assert (last["decision"], last["holdout_decision"], last["ab_test_id"]) == (
        GateDecision.REJECT,
        GateDecision.PROMOTE,
        ab["test_id"],
    )


def test_without_a_labelled_window_the_setting_decides(home) -> None:
    config, tables, name = home
    day = rows(400, seed=3, signal="f0")
    write_feature_store(tables, day, labelled=day.head(100))  # 25 % labelled: not complete
    v1 = register_model(config, "f1")
    _gate(config, tables, name, v1, "f0")
    v2 = register_model(config, "f0")
    strict = SETTINGS.model_copy(
        update={"replay_ab": ReplayABSettings(challenger_percent=50.0, without_window="reject")}
    )
    rejected = _gate(config, tables, name, v2, "f0", strict)
    assert (
        rejected.decision == GateDecision.REJECT
        and "no complete labelled window" in rejected.reasons[-1]
    )
    assert by_alias(config, name, CHAMPION).version == v1
    v3 = register_model(config, "f0")
    promoted = _gate(config, tables, name, v3, "f0")
    assert (
        promoted.decision == GateDecision.PROMOTE and "holdout gate decides" in promoted.reasons[-1]
    )
    assert by_alias(config, name, CHAMPION).version == v3
    assert not tables.table("ab_tests").exists()


def test_manual_promotion_is_audited_and_watched(home) -> None:
    from finml.jobs.training import promote_manual

    config, tables, name = home
    v1 = register_model(config, "f1")
    _gate(config, tables, name, v1, "f0")
    v2 = register_model(config, "f1", pr_auc=0.3, holdout_end="2026-03-02T21:00:00+00:00")
    decision = promote_manual(config, tables, v2, "bad-model day")
    assert decision.decision == GateDecision.MANUAL_PROMOTE and decision.promoted
    assert by_alias(config, name, CHAMPION).version == v2
    assert by_alias(config, name, PREVIOUS).version == v1
    row = _audit(tables)[-1]
    assert (
        row["decision"] == GateDecision.MANUAL_PROMOTE
        and row["reasons"] == "manual promotion: bad-model day"
    )
    assert row["holdout_decision"] is None and row["challenger_metric"] == pytest.approx(0.3)
    assert json.loads(row["validation"]) == {}
    tags = by_alias(config, name, CHAMPION).tags
    assert tags["finml.promotion_kind"] == "manual" and tags["finml.rollback_check"] == "pending"
    assert tags["finml.live_from"] == "2026-03-02T21:00:00+00:00"  # the holdout's end
