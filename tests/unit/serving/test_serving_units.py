"""Pure serving pieces: settings, routing, request models, the z-test and the decision."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from finml.errors import ConfigError
from finml.serving.abtest import Confusion, compare, two_proportion_z
from finml.serving.limits import FLOAT32_MAX, FLOAT64_MAX, feature_bounds, holds
from finml.serving.models import ModelContractError
from finml.serving.routing import BUCKETS, bucket, route
from finml.serving.schemas import record_model
from finml.serving.settings import ABSettings, ServingSettings
from finml.vocabulary import AbDecision


def test_settings_defaults_and_named_errors() -> None:
    assert ServingSettings.from_section(None).ab.mode == "off"
    with pytest.raises(ConfigError, match=r"serving\.ab\.challenger_percent"):
        ServingSettings.from_section({"ab": {"challenger_percent": 120}})
    with pytest.raises(ConfigError, match=r"serving\.colour"):
        ServingSettings.from_section({"colour": "red"})


def test_an_unquoted_yaml_off_is_the_off_mode() -> None:
    import yaml

    section = yaml.safe_load("ab: {mode: off}")  # YAML 1.1 reads it as False
    assert section == {"ab": {"mode": False}}
    assert ServingSettings.from_section(section).ab.mode == "off"
    with pytest.raises(ConfigError, match=r"serving\.ab\.mode"):
        ServingSettings.from_section({"ab": {"mode": True}})  # no mode is "on"


def test_body_limit_and_feature_dtype_are_validated() -> None:
    defaults = ServingSettings.from_section(None)
    assert (defaults.max_body_bytes, defaults.feature_dtype) == (16 * 2**20, "float32")
    with pytest.raises(ConfigError, match=r"serving\.max_body_bytes.*got 10"):
        ServingSettings.from_section({"max_body_bytes": 10})
    with pytest.raises(ConfigError, match=r"serving\.feature_dtype.*got 'float16'"):
        ServingSettings.from_section({"feature_dtype": "float16"})


def test_feature_bounds_are_the_narrowest_range_that_holds() -> None:
    types = ("double", "float", "integer", "long")
    assert feature_bounds(types, "float64") == (FLOAT64_MAX, FLOAT32_MAX, 2**31 - 1, 2**63 - 1024)
    assert feature_bounds(types, "float32") == (FLOAT32_MAX, FLOAT32_MAX, 2**31 - 1, 2**63 - 1024)
    assert all(float(b) == b for b in feature_bounds(types, "float64"))  # exact floats
    with pytest.raises(ValueError, match=r"got \['string'\]"):
        feature_bounds(("double", "string"), "float64")


def test_a_model_must_hold_what_the_schema_accepts() -> None:
    published = {"a": FLOAT32_MAX, "b": FLOAT64_MAX}
    assert holds({"a": FLOAT64_MAX, "b": FLOAT64_MAX}, published)  # wider: fine
    assert holds({"a": FLOAT32_MAX}, published)  # a challenger using a subset
    assert not holds({"a": FLOAT32_MAX, "b": FLOAT32_MAX}, published)  # b would overflow


def test_routing_is_sticky_and_matches_the_split() -> None:
    split = ABSettings(mode="split", challenger_percent=5)
    symbols = [f"SYM{i}" for i in range(20_000)]
    first = [route(s, split, True) for s in symbols]
    assert first == [route(s, split, True) for s in symbols]
    share = first.count("challenger") / len(symbols)
    assert 0.04 < share < 0.06
    assert all(0 <= bucket(s) < BUCKETS for s in symbols[:100])


@pytest.mark.parametrize(
    ("ab", "key", "has_challenger"),
    [
        (ABSettings(mode="off", challenger_percent=100), "X", True),
        (ABSettings(mode="shadow", challenger_percent=100), "X", True),
        (ABSettings(mode="split", challenger_percent=100), None, True),
        (ABSettings(mode="split", challenger_percent=100), "X", False),
    ],
)
def test_champion_answers_outside_a_split(ab: ABSettings, key, has_challenger: bool) -> None:
    assert route(key, ab, has_challenger) == "champion"


def test_record_model_rejects_nan_inf_and_extras() -> None:
    model = record_model(("a", "b-c"))
    ok = model.model_validate({"a": 1, "b-c": 2.5, "symbol": "X"})
    assert ok.model_dump(by_alias=True)["b-c"] == 2.5
    for bad in ({"a": math.nan, "b-c": 1}, {"a": math.inf, "b-c": 1}, {"a": 1, "b-c": 1, "z": 0}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)
    with pytest.raises(ModelContractError, match="symbol"):
        record_model(("symbol", "a"))


def test_two_proportion_z_matches_a_hand_computation() -> None:
    z, p = two_proportion_z(50, 100, 90, 100)
    pooled = 140 / 200
    expected = 0.4 / math.sqrt(pooled * (1 - pooled) * 0.02)
    assert z == pytest.approx(expected) and p == pytest.approx(math.erfc(expected / math.sqrt(2)))
    assert two_proportion_z(0, 0, 5, 10) == (0.0, 1.0)


def confusion(variant: str, tp: int, fp: int, fn: int) -> Confusion:
    return Confusion(variant, "1", tp + fp + fn + 100, tp, fp, fn, 100)


@pytest.mark.parametrize(
    ("champion", "challenger", "decision"),
    [
        (
            confusion("champion", 50, 10, 50),
            confusion("challenger", 90, 10, 10),
            AbDecision.PROMOTE_CHALLENGER,
        ),
        (
            confusion("champion", 90, 10, 10),
            confusion("challenger", 50, 10, 50),
            AbDecision.KEEP_CHAMPION,
        ),
        (
            confusion("champion", 50, 10, 50),
            confusion("challenger", 52, 10, 48),
            AbDecision.INCONCLUSIVE,
        ),
        (confusion("champion", 5, 1, 5), confusion("challenger", 9, 1, 1), AbDecision.INCONCLUSIVE),
        # better recall bought with far worse precision: no promotion
        (
            confusion("champion", 50, 10, 50),
            confusion("challenger", 90, 300, 10),
            AbDecision.INCONCLUSIVE,
        ),
    ],
)
def test_decision(champion: Confusion, challenger: Confusion, decision: str) -> None:
    result = compare(champion, challenger, "recall", 0.05, 30)
    assert result.decision == decision, result.reason
