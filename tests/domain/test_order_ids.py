"""Client order IDs: deterministic, team-tagged, at most 48 characters of [A-Za-z0-9_-]."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import Leg
from app.domain.order_ids import (
    MAX_CLIENT_ORDER_ID,
    MULTI_TEAM_TAG,
    RESERVED_TEAM_IDS,
    TEAM_ID_PATTERN,
    block_order_id,
    crossed_block_id,
    crossed_trade_id,
    safe_symbol,
    team_trade_id,
    tick_stamp,
)

TICK = datetime(2026, 3, 12, 14, 30, tzinfo=UTC)
SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_a_single_team_block_starts_with_the_team_id() -> None:
    assert block_order_id(TICK, "AAPL", Leg.OPEN, ["alpha"]) == "alpha_202603121430_AAPL_o"
    assert block_order_id(TICK, "AAPL", Leg.CLOSE, ["alpha"]) == "alpha_202603121430_AAPL_c"


def test_a_multi_team_block_starts_with_net() -> None:
    assert block_order_id(TICK, "AAPL", Leg.OPEN, ["alpha", "beta"]) == "net_202603121430_AAPL_o"
    assert crossed_block_id(TICK, "AAPL", ["alpha", "beta"]) == "net_202603121430_AAPL_x"


def test_a_single_team_crossed_block_id_starts_with_the_team_id() -> None:
    assert crossed_block_id(TICK, "MSFT", ["beta"]) == "beta_202603121430_MSFT_x"


def test_team_trade_ids_carry_leg_and_fill_number() -> None:
    assert team_trade_id("alpha", TICK, "AAPL", Leg.OPEN, 1) == "alpha_202603121430_AAPL_o1"
    assert team_trade_id("alpha", TICK, "AAPL", Leg.CLOSE, 12) == "alpha_202603121430_AAPL_c12"
    assert crossed_trade_id("beta", TICK, "AAPL") == "beta_202603121430_AAPL_x"


def test_the_same_inputs_give_the_same_id() -> None:
    first = block_order_id(TICK, "AAPL", Leg.OPEN, ["a", "b"])
    again = block_order_id(datetime(2026, 3, 12, 14, 30, tzinfo=UTC), "AAPL", Leg.OPEN, ["a", "b"])
    assert first == again


def test_different_ticks_legs_and_symbols_give_different_ids() -> None:
    ids = {
        block_order_id(TICK + timedelta(minutes=m), symbol, leg, teams)
        for m in range(3)
        for symbol in ("AAPL", "MSFT")
        for leg in Leg
        for teams in (["a"], ["b"], ["a", "b"])
    }
    assert len(ids) == 3 * 2 * 2 * 3


def test_the_tick_is_stamped_in_utc_to_the_minute() -> None:
    new_york = datetime(2026, 3, 12, 10, 30, 59, tzinfo=ZoneInfo("America/New_York"))  # EDT
    assert tick_stamp(new_york) == "202603121430"
    assert tick_stamp(TICK + timedelta(seconds=42)) == tick_stamp(TICK)


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_a_naive_tick_is_taken_as_utc_whatever_the_hosts_timezone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2026, 3, 12, 14, 30)
        assert tick_stamp(naive) == "202603121430"
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("symbol", "safe"),
    [
        ("AAPL", "AAPL"),
        ("BRK.B", "BRK-B"),
        ("BTC/USD", "BTC-USD"),
        ("BF B", "BF-B"),
        ("ABCDEFGHIJKLMN", "ABCDEFGHIJ"),
    ],
)
def test_symbols_are_sanitised_and_bounded(symbol: str, safe: str) -> None:
    assert safe_symbol(symbol) == safe


def test_a_dotted_symbol_gives_a_safe_id() -> None:
    order_id = block_order_id(TICK, "BRK.B", Leg.OPEN, ["alpha"])
    assert order_id == "alpha_202603121430_BRK-B_o"
    assert SAFE.match(order_id)


def test_the_longest_ids_fit_in_48_characters() -> None:
    team = "a" * 16
    symbol = "S" * 20
    longest = team_trade_id(team, TICK, symbol, Leg.OPEN, 999_999)
    assert len(longest) == MAX_CLIENT_ORDER_ID == 48
    assert len(block_order_id(TICK, symbol, Leg.OPEN, [team])) <= 48


def test_an_id_that_would_be_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid client order id"):
        team_trade_id("a" * 16, TICK, "S" * 10, Leg.OPEN, 1_000_000)


def test_an_unsafe_team_id_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid client order id"):
        block_order_id(TICK, "AAPL", Leg.OPEN, ["al pha"])
    with pytest.raises(ValueError, match="invalid client order id"):
        crossed_trade_id("al.pha", TICK, "AAPL")


@pytest.mark.parametrize(
    "team_id", ["alpha", "a", "team-7", "0day", "abcdefghijklmnop", "a-b-c", "x9"]
)
def test_team_id_pattern_accepts(team_id: str) -> None:
    assert TEAM_ID_PATTERN.match(team_id)


@pytest.mark.parametrize(
    "team_id",
    ["", "Alpha", "-lead", "a_b", "a.b", "a b", "abcdefghijklmnopq", "ünï", "al\npha"],
)
def test_team_id_pattern_refuses(team_id: str) -> None:
    assert not TEAM_ID_PATTERN.match(team_id)


def test_team_id_pattern_refuses_a_trailing_newline() -> None:
    assert not TEAM_ID_PATTERN.match("alpha\n")


def test_the_multi_team_tag_is_reserved_and_never_a_team_id() -> None:
    assert MULTI_TEAM_TAG in RESERVED_TEAM_IDS


team_ids = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,15}\Z")
symbols = st.text(
    alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "S", "Zs"]),
    min_size=1,
    max_size=20,
)
ticks = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    team=team_ids,
    others=st.lists(team_ids, min_size=1, max_size=3),
    tick=ticks,
    symbol=symbols,
    leg=st.sampled_from(list(Leg)),
    number=st.integers(1, 999_999),
)
def test_every_id_is_safe_bounded_deterministic_and_tagged(
    team: str, others: list[str], tick: datetime, symbol: str, leg: Leg, number: int
) -> None:
    assert TEAM_ID_PATTERN.match(team)
    produced = [
        block_order_id(tick, symbol, leg, [team]),
        block_order_id(tick, symbol, leg, [team, *others]),
        crossed_block_id(tick, symbol, [team]),
        team_trade_id(team, tick, symbol, leg, number),
        crossed_trade_id(team, tick, symbol),
    ]
    for order_id in produced:
        assert len(order_id) <= MAX_CLIENT_ORDER_ID
        assert SAFE.match(order_id)
    assert produced[0].startswith(team + "_")
    assert produced[1].startswith("net_")
    assert produced[3].startswith(team + "_")
    assert produced[4].startswith(team + "_")
    assert block_order_id(tick, symbol, leg, [team]) == produced[0]
    assert team_trade_id(team, tick, symbol, leg, number) == produced[3]


@settings(max_examples=200, deadline=None)
@given(
    a=st.tuples(team_ids, ticks, st.from_regex(r"\A[A-Z]{1,5}\Z"), st.sampled_from(list(Leg))),
    b=st.tuples(team_ids, ticks, st.from_regex(r"\A[A-Z]{1,5}\Z"), st.sampled_from(list(Leg))),
    n=st.integers(1, 99),
    m=st.integers(1, 99),
)
def test_different_trades_of_plain_symbols_get_different_ids(a, b, n: int, m: int) -> None:
    team_a, tick_a, symbol_a, leg_a = a
    team_b, tick_b, symbol_b, leg_b = b
    same_minute = tick_stamp(tick_a) == tick_stamp(tick_b)
    key_a = (team_a, tick_stamp(tick_a), symbol_a, leg_a, n)
    key_b = (team_b, tick_stamp(tick_b), symbol_b, leg_b, m)
    id_a = team_trade_id(team_a, tick_a, symbol_a, leg_a, n)
    id_b = team_trade_id(team_b, tick_b, symbol_b, leg_b, m)
    assert (id_a == id_b) == (key_a == key_b)
    if not same_minute:
        assert crossed_trade_id(team_a, tick_a, symbol_a) != crossed_trade_id(
            team_b, tick_b, symbol_b
        )
