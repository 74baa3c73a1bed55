from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finml.errors import InvalidIdentifier
from finml.names import TableName, quote, validate_identifier

VALID = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True)


@given(VALID)
def test_valid_identifiers_pass_and_quote_safely(name: str) -> None:
    assert validate_identifier(name) == name
    assert quote(name) == f"`{name}`"


@given(st.text(min_size=0, max_size=60))
def test_arbitrary_text_is_accepted_only_if_it_is_a_plain_identifier(text: str) -> None:
    dangerous = set("`'\";./\\ \t\n-*()=") | {"\x00"}
    try:
        validate_identifier(text)
    except InvalidIdentifier as exc:
        assert repr(text) in str(exc)
        return
    assert text and not (set(text) & dangerous)
    assert text.isascii() and not text[0].isdigit()


@pytest.mark.parametrize(
    "bad",
    ["", "1abc", "a b", "a.b", "a`b", "a;drop table x", "../etc", "ünïcode", "x" * 129, None, 3],
)
def test_bad_identifiers_are_rejected_with_the_value(bad: object) -> None:
    with pytest.raises(InvalidIdentifier, match="expected 1-128 characters"):
        validate_identifier(bad, "column")


def test_table_name_parses_defaults_lowercases_and_maps_to_a_path() -> None:
    name = TableName.parse("Bronze_Trades", catalog="finml_local", schema="markets")
    assert str(name) == "finml_local.markets.bronze_trades"
    assert name.sql == "`finml_local`.`markets`.`bronze_trades`"
    assert name.path(Path("/w")) == Path("/w/finml_local/markets/bronze_trades")
    assert TableName.parse("c.s.t") == TableName("c", "s", "t")


@pytest.mark.parametrize("bad", ["a.b.c.d", "c.s.t;x", "c..t", "c.s.`t`", "../../x"])
def test_table_name_rejects_unsafe_or_overlong_names(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        TableName.parse(bad, catalog="c", schema="s")


def test_table_name_without_defaults_needs_three_parts() -> None:
    with pytest.raises(InvalidIdentifier, match=r"catalog\.schema\.table"):
        TableName.parse("trades")


@given(st.lists(VALID, min_size=3, max_size=3))
def test_table_path_stays_inside_the_warehouse(parts: list[str]) -> None:
    path = TableName(*parts).path(Path("/warehouse"))
    assert path.resolve().is_relative_to(Path("/warehouse"))
