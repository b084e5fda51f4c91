"""Netting: per team first, then crossing between teams, then the residual's legs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import Intent, Leg, Participant, Side
from app.domain.netting import LegPlan, plan_blocks, split_legs

TICK = datetime(2026, 3, 12, 14, 30, tzinfo=UTC)
PRICES = {"AAPL": Decimal("187.5"), "MSFT": Decimal("400"), "SPY": Decimal("560.25")}
D = Decimal


def intent(team: str, side: str, quantity: str | int, symbol: str = "AAPL") -> Intent:
    return Intent(team, symbol, Side(side), D(quantity))


def plan(intents: list[Intent], positions: dict[str, Decimal] | None = None):
    return plan_blocks(TICK, intents, positions or {}, PRICES)


def only_block(intents: list[Intent], positions: dict[str, Decimal] | None = None):
    blocks = plan(intents, positions)
    assert len(blocks) == 1, blocks
    return blocks[0]


# --- per-team netting ------------------------------------------------------------------


def test_a_teams_buy_and_sell_on_a_symbol_net_to_one_quantity() -> None:
    block = only_block([intent("a", "buy", 10), intent("a", "sell", 4)])
    assert block.participants == (Participant("a", Side.BUY, D(6)),)
    assert block.crossed == 0
    assert block.legs == (LegPlan(Leg.OPEN, Side.BUY, D(6)),)


def test_a_teams_intents_that_cancel_out_make_no_block() -> None:
    assert plan([intent("a", "buy", 5), intent("a", "sell", 5)]) == []


def test_a_team_cancelling_out_leaves_the_other_teams_block() -> None:
    block = only_block([intent("a", "buy", 5), intent("a", "sell", 5), intent("b", "sell", 2)])
    assert block.participants == (Participant("b", Side.SELL, D(2)),)


def test_several_buys_of_a_team_are_summed() -> None:
    block = only_block([intent("a", "buy", 3), intent("a", "buy", "2.5")])
    assert block.participants == (Participant("a", Side.BUY, D("5.5")),)


def test_a_team_can_net_to_a_sell() -> None:
    block = only_block([intent("a", "buy", 2), intent("a", "sell", 7)], {"AAPL": D(100)})
    assert block.participants == (Participant("a", Side.SELL, D(5)),)
    assert block.legs == (LegPlan(Leg.CLOSE, Side.SELL, D(5)),)


def test_no_intents_no_blocks() -> None:
    assert plan([]) == []


# --- crossing between teams ------------------------------------------------------------


def test_opposite_teams_cross_and_only_the_residual_goes_out() -> None:
    block = only_block([intent("a", "buy", 100), intent("b", "sell", 60)])
    assert block.crossed == D(60)
    assert block.legs == (LegPlan(Leg.OPEN, Side.BUY, D(40)),)
    assert block.net_side is Side.BUY
    assert block.participants == (
        Participant("a", Side.BUY, D(100)),
        Participant("b", Side.SELL, D(60)),
    )


def test_a_fully_crossed_block_sends_nothing() -> None:
    block = only_block([intent("a", "buy", 50), intent("b", "sell", 20), intent("c", "sell", 30)])
    assert block.crossed == D(50)
    assert block.legs == ()
    assert block.net_side is None


def test_crossing_with_several_teams_on_each_side() -> None:
    # Buyers 30 + 20 = 50, sellers 15 + 10 = 25: crossed 25, residual buy 25.
    intents = [
        intent("d", "sell", 15),
        intent("a", "buy", 30),
        intent("c", "sell", 10),
        intent("b", "buy", 20),
    ]
    block = only_block(intents)
    assert block.crossed == D(25)
    assert block.legs == (LegPlan(Leg.OPEN, Side.BUY, D(25)),)


def test_a_sell_residual_from_a_long_account_is_one_close_leg() -> None:
    block = only_block([intent("a", "buy", 10), intent("b", "sell", 40)], {"AAPL": D(500)})
    assert block.crossed == D(10)
    assert block.legs == (LegPlan(Leg.CLOSE, Side.SELL, D(30)),)
    assert block.net_side is Side.SELL


def test_the_block_carries_the_tick_symbol_and_reference_price() -> None:
    block = only_block([intent("a", "buy", 1, "SPY")])
    assert block.tick == TICK
    assert block.symbol == "SPY"
    assert block.reference_price == D("560.25")


# --- the account's position decides the legs -------------------------------------------


def test_a_residual_through_zero_long_to_short_is_close_then_open() -> None:
    # Account long 30; the teams net to sell 50 → close 30, then open a 20 short.
    block = only_block([intent("a", "sell", 50)], {"AAPL": D(30)})
    assert block.legs == (
        LegPlan(Leg.CLOSE, Side.SELL, D(30)),
        LegPlan(Leg.OPEN, Side.SELL, D(20)),
    )


def test_a_residual_through_zero_short_to_long_is_close_then_open() -> None:
    # Account short 30; A buys 100, B sells 60 → residual buy 40: close 30, open 10.
    block = only_block([intent("a", "buy", 100), intent("b", "sell", 60)], {"AAPL": D(-30)})
    assert block.crossed == D(60)
    assert block.legs == (
        LegPlan(Leg.CLOSE, Side.BUY, D(30)),
        LegPlan(Leg.OPEN, Side.BUY, D(10)),
    )


def test_reducing_without_flipping_is_one_close_leg() -> None:
    block = only_block([intent("a", "sell", 30)], {"AAPL": D(30)})
    assert block.legs == (LegPlan(Leg.CLOSE, Side.SELL, D(30)),)


def test_covering_part_of_a_short_is_one_close_leg() -> None:
    block = only_block([intent("a", "buy", 5)], {"AAPL": D(-30)})
    assert block.legs == (LegPlan(Leg.CLOSE, Side.BUY, D(5)),)


def test_adding_to_a_position_is_one_open_leg() -> None:
    assert only_block([intent("a", "buy", 5)], {"AAPL": D(30)}).legs == (
        LegPlan(Leg.OPEN, Side.BUY, D(5)),
    )
    assert only_block([intent("a", "sell", 5)], {"AAPL": D(-30)}).legs == (
        LegPlan(Leg.OPEN, Side.SELL, D(5)),
    )


def test_the_position_of_another_symbol_is_irrelevant() -> None:
    block = only_block([intent("a", "sell", 5, "MSFT")], {"AAPL": D(100)})
    assert block.legs == (LegPlan(Leg.OPEN, Side.SELL, D(5)),)


@pytest.mark.parametrize(
    ("residual", "position", "expected"),
    [
        ("0", "10", ()),
        ("5", "0", ((Leg.OPEN, Side.BUY, "5"),)),
        ("-5", "0", ((Leg.OPEN, Side.SELL, "5"),)),
        ("5", "10", ((Leg.OPEN, Side.BUY, "5"),)),
        ("-5", "-10", ((Leg.OPEN, Side.SELL, "5"),)),
        ("-5", "10", ((Leg.CLOSE, Side.SELL, "5"),)),
        ("-10", "10", ((Leg.CLOSE, Side.SELL, "10"),)),
        # No broker takes a fractional short: the open leg goes in whole shares (0025).
        ("-10.5", "10", ((Leg.CLOSE, Side.SELL, "10"),)),
        ("-13.5", "10", ((Leg.CLOSE, Side.SELL, "10"), (Leg.OPEN, Side.SELL, "3"))),
        ("-5.049", "-79.951", ((Leg.OPEN, Side.SELL, "5"),)),
        ("5", "-10", ((Leg.CLOSE, Side.BUY, "5"),)),
        ("12", "-2.5", ((Leg.CLOSE, Side.BUY, "2.5"), (Leg.OPEN, Side.BUY, "9.5"))),
    ],
)
def test_split_legs(residual: str, position: str, expected: tuple) -> None:
    legs = split_legs(D(residual), D(position))
    assert legs == tuple(LegPlan(leg, side, D(q)) for leg, side, q in expected)


def test_a_residual_no_legal_order_carries_is_unsendable_and_the_side_still_stands() -> None:
    """Observation 5 of issue 13: a team sells 5.049 it holds; another team's short makes
    that an extension of the account's fractional short, which the broker refuses."""
    intents = [intent("churn2", "sell", "5.049", "SPY")]
    [block] = plan_blocks(TICK, intents, {"SPY": D("-79.951")}, {"SPY": D("500")})
    assert block.legs == (LegPlan(Leg.OPEN, Side.SELL, D(5)),)
    assert block.unsendable == D("0.049")
    assert block.net_side is Side.SELL
    [nothing_sent] = plan_blocks(TICK, [intent("a", "sell", "0.4", "SPY")], {"SPY": D(0)},
                                 {"SPY": D("500")})  # fmt: skip
    assert (nothing_sent.legs, nothing_sent.unsendable, nothing_sent.net_side) == (
        (), D("0.4"), Side.SELL)  # fmt: skip


# --- ordering --------------------------------------------------------------------------


def test_blocks_are_ordered_by_symbol_and_participants_by_team_id() -> None:
    intents = [
        intent("zed", "buy", 1, "SPY"),
        intent("bob", "sell", 1, "MSFT"),
        intent("amy", "buy", 2, "SPY"),
        intent("cat", "buy", 1, "AAPL"),
        intent("ann", "buy", 4, "MSFT"),
    ]
    blocks = plan(intents, {"MSFT": D(10)})
    assert [b.symbol for b in blocks] == ["AAPL", "MSFT", "SPY"]
    assert [b.team_ids for b in blocks] == [["cat"], ["ann", "bob"], ["amy", "zed"]]


def test_the_plan_does_not_depend_on_the_order_of_the_intents() -> None:
    intents = [
        intent("b", "sell", 7),
        intent("a", "buy", 3),
        intent("c", "buy", 9, "MSFT"),
        intent("a", "buy", 2),
        intent("b", "buy", 1, "MSFT"),
    ]
    assert plan(intents) == plan(list(reversed(intents)))


# --- invariants over random intents ------------------------------------------------------

TEAMS = ["a", "b", "c", "d"]
SYMBOLS = sorted(PRICES)
random_intents = st.lists(
    st.builds(
        Intent,
        team_id=st.sampled_from(TEAMS),
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(list(Side)),
        quantity=st.integers(1, 500).map(Decimal),
    ),
    max_size=25,
)
positions = st.dictionaries(
    st.sampled_from(SYMBOLS), st.integers(-300, 300).map(Decimal), max_size=len(SYMBOLS)
)


@settings(max_examples=200, deadline=None)
@given(intents=random_intents, account=positions)
def test_netting_invariants(intents: list[Intent], account: dict[str, Decimal]) -> None:
    blocks = plan_blocks(TICK, intents, account, PRICES)
    assert [b.symbol for b in blocks] == sorted({b.symbol for b in blocks})
    for block in blocks:
        wanted: dict[str, Decimal] = {}
        for i in intents:
            if i.symbol == block.symbol:
                wanted[i.team_id] = wanted.get(i.team_id, D(0)) + i.side.sign * i.quantity
        # One participant per team that wants something, with its signed net.
        assert {p.team_id: p.side.sign * p.quantity for p in block.participants} == {
            t: q for t, q in wanted.items() if q != 0
        }
        assert block.team_ids == sorted(block.team_ids)
        assert all(p.quantity > 0 for p in block.participants)
        bought = sum((p.quantity for p in block.participants if p.side is Side.BUY), D(0))
        sold = sum((p.quantity for p in block.participants if p.side is Side.SELL), D(0))
        assert block.crossed == min(bought, sold)
        # At most one order per leg, all on the residual's side, summing to the residual.
        assert len({leg.leg for leg in block.legs}) == len(block.legs) <= 2
        assert sum((leg.side.sign * leg.quantity for leg in block.legs), D(0)) == bought - sold
        assert all(leg.quantity > 0 for leg in block.legs)
        # The account never flips inside one order: a close leg ends at most at zero.
        position = account.get(block.symbol, D(0))
        for leg in block.legs:
            after = position + leg.side.sign * leg.quantity
            if leg.leg is Leg.CLOSE:
                assert abs(after) < abs(position)
                assert after == 0 or (after > 0) == (position > 0)
            else:
                assert position == 0 or (position > 0) == (leg.side is Side.BUY)
            position = after
    # Symbols where every team cancelled out have no block.
    netted = {(i.symbol, i.team_id) for i in intents}
    for symbol in {s for s, _ in netted} - {b.symbol for b in blocks}:
        for team in TEAMS:
            total = sum(
                (
                    i.side.sign * i.quantity
                    for i in intents
                    if (i.symbol, i.team_id) == (symbol, team)
                ),
                D(0),
            )
            assert total == 0
