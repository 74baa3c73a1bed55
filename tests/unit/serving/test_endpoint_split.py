"""The canary split: the local server's routing follows the endpoint's configured share,
and the local endpoint state round-trips (no server, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finml.errors import ConfigError
from finml.serving.endpoint import EndpointState, ab_settings, load_state, save_state, state_path
from finml.serving.routing import CHALLENGER, route
from finml.serving.settings import ABSettings

KEYS = [f"SYM{i:05d}" for i in range(20_000)]


@pytest.mark.parametrize("percent", [0, 10, 25, 50, 100])
def test_the_routed_share_follows_the_configured_share(percent: int) -> None:
    ab = ab_settings(ABSettings(), percent)
    assert ab.mode == "split"
    share = sum(route(key, ab, has_challenger=True) == CHALLENGER for key in KEYS) / len(KEYS)
    assert share == pytest.approx(percent / 100, abs=0.01)


def test_a_larger_share_keeps_every_earlier_challenger_entity() -> None:
    """Sticky canary: stepping 10 -> 25 % only adds entities to the challenger."""
    small, large = ab_settings(ABSettings(), 10), ab_settings(ABSettings(), 25)
    at_10 = {k for k in KEYS if route(k, small, True) == CHALLENGER}
    at_25 = {k for k in KEYS if route(k, large, True) == CHALLENGER}
    assert at_10 < at_25


def test_without_a_challenger_everything_goes_to_the_champion() -> None:
    ab = ab_settings(ABSettings(), 100)
    assert {route(k, ab, has_challenger=False) for k in KEYS[:100]} == {"champion"}


def test_the_state_round_trips_and_a_broken_file_names_itself(tmp_path: Path) -> None:
    assert load_state(tmp_path) is None
    saved = save_state(tmp_path, EndpointState(champion_version="1", challenger_version="2"))
    assert saved.updated_at is not None
    assert load_state(tmp_path) == saved
    state_path(tmp_path).write_text('{"challenger_percent": 140}')
    with pytest.raises(ConfigError, match=r"endpoint\.json: expected an endpoint state"):
        load_state(tmp_path)
