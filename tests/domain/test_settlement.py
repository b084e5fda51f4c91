"""Settlement: broker fills and internally crossed quantity, allocated to teams exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.models import Allocation, Fill, Intent, Leg, Side
from app.domain.netting import BlockPlan, plan_blocks
from app.domain.settlement import BlockSettlement, OverfillError, SettlementError

D = Decimal
ONE = D(1)
NANO = D("0.000000001")
TICK = datetime(2026, 3, 12, 14, 30, tzinfo=UTC)
LATER = TICK + timedelta(minutes=1)
PRICES = {"AAPL": D("187.5"), "BRK.B": D("500")}
PARENT = "net_202603121430_AAPL_o"


def block(
    *wants: tuple[str, str, str | int],
    position: str | int = 0,
    symbol: str = "AAPL",
) -> BlockPlan:
    intents = [Intent(team, symbol, Side(side), D(q)) for team, side, q in wants]
    [plan] = plan_blocks(TICK, intents, {symbol: D(position)}, PRICES)
    return plan


def fill(
    quantity: str | int,
    price: str | int,
    side: Side = Side.BUY,
    fee: str = "0",
    client_order_id: str = PARENT,
    symbol: str = "AAPL",
) -> Fill:
    return Fill(client_order_id, symbol, side, D(quantity), D(price), LATER, D(fee))


def by_team(allocations: list[Allocation]) -> dict[str, Decimal]:
    return {a.team_id: a.quantity for a in allocations}


# --- broker fills ------------------------------------------------------------------------


def test_a_single_team_block_gets_the_whole_fill() -> None:
    settlement = BlockSettlement(block(("alpha", "buy", 100)), ONE)
    [allocation] = settlement.allocate_fill(fill(100, "187.61", fee="1.25"), Leg.OPEN)
    assert allocation == Allocation(
        team_id="alpha",
        trade_id="alpha_202603121430_AAPL_o1",
        parent_client_order_id=PARENT,
        symbol="AAPL",
        side=Side.BUY,
        quantity=D(100),
        price=D("187.61"),
        fee=D("1.25"),
        timestamp=LATER,
        crossed=False,
    )
    assert settlement.unfilled == {"alpha": D(0)}


def test_a_fill_is_split_pro_rata_to_what_each_team_waits_for() -> None:
    # A 30, B 10 → a fill of 20: 15 and 5; fee 0.40 split 0.30 / 0.10.
    settlement = BlockSettlement(block(("a", "buy", 30), ("b", "buy", 10)), ONE)
    allocations = settlement.allocate_fill(fill(20, "10.5", fee="0.40"), Leg.OPEN)
    assert by_team(allocations) == {"a": D(15), "b": D(5)}
    assert [a.fee for a in allocations] == [D("0.30"), D("0.10")]
    assert {a.price for a in allocations} == {D("10.5")}
    assert settlement.unfilled == {"a": D(15), "b": D(5)}


def test_a_fills_parts_sum_exactly_to_the_fill() -> None:
    # 7 over 1:1:1 → 3, 2, 2 (ties to the earlier team); fee 0.10 over 3:2:2
    # → 4.29, 2.86, 2.86 cents → 4, 3, 3 cents.
    settlement = BlockSettlement(block(("c", "buy", 5), ("a", "buy", 5), ("b", "buy", 5)), ONE)
    the_fill = fill(7, "33.3333", fee="0.10")
    allocations = settlement.allocate_fill(the_fill, Leg.OPEN)
    assert by_team(allocations) == {"a": D(3), "b": D(2), "c": D(2)}
    assert [a.fee for a in allocations] == [D("0.04"), D("0.03"), D("0.03")]
    assert sum(a.quantity for a in allocations) == the_fill.quantity
    assert sum(a.fee for a in allocations) == the_fill.fee
    assert sum(a.quantity * a.price for a in allocations) == the_fill.quantity * the_fill.price


def test_a_team_whose_share_rounds_to_zero_gets_no_allocation() -> None:
    settlement = BlockSettlement(block(("a", "buy", 1), ("b", "buy", 1), ("c", "buy", 1)), ONE)
    first = settlement.allocate_fill(fill(1, 10, fee="0.01"), Leg.OPEN)
    assert [(a.team_id, a.quantity, a.fee) for a in first] == [("a", D(1), D("0.01"))]
    second = settlement.allocate_fill(fill(2, 11), Leg.OPEN)
    assert by_team(second) == {"b": D(1), "c": D(1)}
    # b and c's first allocations come from the second fill of the leg.
    assert [a.trade_id for a in second] == [
        "b_202603121430_AAPL_o2",
        "c_202603121430_AAPL_o2",
    ]


def test_partial_fills_never_over_allocate_a_team() -> None:
    # A 3, B 1; four fills of 1 → ties and remainders must never give B a second share.
    settlement = BlockSettlement(block(("a", "buy", 3), ("b", "buy", 1)), ONE)
    totals: Counter[str] = Counter()
    for _ in range(4):
        for allocation in settlement.allocate_fill(fill(1, 10), Leg.OPEN):
            totals[allocation.team_id] += allocation.quantity
        assert totals["a"] <= 3
        assert totals["b"] <= 1
    assert totals == {"a": D(3), "b": D(1)}


def test_a_fill_beyond_the_residual_is_an_overfill_and_changes_nothing() -> None:
    settlement = BlockSettlement(block(("a", "buy", 10), ("b", "sell", 4)), ONE)  # residual 6
    settlement.allocate_fill(fill(5, 10), Leg.OPEN)
    with pytest.raises(OverfillError, match="exceeds the 1 unfilled"):
        settlement.allocate_fill(fill(2, 10), Leg.OPEN)
    assert settlement.unfilled == {"a": D(1)}
    assert settlement.broker_quantity == D(5)
    assert by_team(settlement.allocate_fill(fill(1, 10), Leg.OPEN)) == {"a": D(1)}
    with pytest.raises(OverfillError):
        settlement.allocate_fill(fill(1, 10), Leg.OPEN)


def test_a_fully_crossed_block_accepts_no_broker_fill() -> None:
    settlement = BlockSettlement(block(("a", "buy", 5), ("b", "sell", 5)), ONE)
    with pytest.raises(SettlementError, match="does not match the block"):
        settlement.allocate_fill(fill(1, 10), Leg.OPEN)


def test_a_sell_block_allocates_sells() -> None:
    plan = block(("a", "sell", 30), ("b", "sell", 10), ("c", "buy", 20), position=1000)
    settlement = BlockSettlement(plan, ONE)
    # Crossed 20 over the sellers 30:10 → 15 and 5; residual 15 and 5.
    assert settlement.residual_share == {"a": D(15), "b": D(5)}
    allocations = settlement.allocate_fill(fill(20, 50, side=Side.SELL), Leg.CLOSE)
    assert by_team(allocations) == {"a": D(15), "b": D(5)}
    assert {a.side for a in allocations} == {Side.SELL}
    assert [a.trade_id for a in allocations] == [
        "a_202603121430_AAPL_c1",
        "b_202603121430_AAPL_c1",
    ]


def test_fills_on_both_legs_of_a_flip_share_one_residual() -> None:
    # Account short 30; A buys 40, B buys 20 → close 30, open 30; 60 in all.
    plan = block(("a", "buy", 40), ("b", "buy", 20), position=-30)
    assert [(leg.leg, leg.quantity) for leg in plan.legs] == [(Leg.CLOSE, D(30)), (Leg.OPEN, D(30))]
    settlement = BlockSettlement(plan, ONE)
    close = settlement.allocate_fill(fill(30, 10), Leg.CLOSE)
    open_ = settlement.allocate_fill(fill(30, 11), Leg.OPEN)
    assert by_team(close) == {"a": D(20), "b": D(10)}
    assert by_team(open_) == {"a": D(20), "b": D(10)}
    ids = [a.trade_id for a in close + open_]
    assert ids == [
        "a_202603121430_AAPL_c1",
        "b_202603121430_AAPL_c1",
        "a_202603121430_AAPL_o1",
        "b_202603121430_AAPL_o1",
    ]


def test_fractional_quantities_with_a_nano_quantum() -> None:
    settlement = BlockSettlement(block(("a", "buy", "0.5"), ("b", "buy", "0.25")), NANO)
    allocations = settlement.allocate_fill(fill("0.3", "100"), Leg.OPEN)
    assert by_team(allocations) == {"a": D("0.2"), "b": D("0.1")}
    allocations = settlement.allocate_fill(fill("0.45", "100"), Leg.OPEN)
    assert by_team(allocations) == {"a": D("0.3"), "b": D("0.15")}
    assert settlement.unfilled == {"a": D(0), "b": D(0)}


def test_fills_in_units_finer_than_the_quantum_are_refused() -> None:
    settlement = BlockSettlement(block(("a", "buy", 5)), ONE)
    with pytest.raises(ValueError, match="quantum"):
        settlement.allocate_fill(fill("0.5", 10), Leg.OPEN)


# --- crossed quantity --------------------------------------------------------------------


def test_crossing_with_a_residual_sets_each_teams_share() -> None:
    # A buys 100, B sells 60: A's 60 crosses, A's 40 goes out; B's 60 crosses.
    settlement = BlockSettlement(block(("a", "buy", 100), ("b", "sell", 60)), ONE)
    assert settlement.crossed_share == {"a": D(60), "b": D(60)}
    assert settlement.residual_share == {"a": D(40)}
    assert settlement.residual == D(40)


def test_crossed_quantity_settles_at_the_vwap_of_the_broker_fills() -> None:
    # Fills 10 @ 10.00 and 30 @ 10.40 → VWAP (100 + 312) / 40 = 10.30.
    settlement = BlockSettlement(block(("a", "buy", 100), ("b", "sell", 60)), ONE)
    settlement.allocate_fill(fill(10, "10.00"), Leg.OPEN)
    settlement.allocate_fill(fill(30, "10.40"), Leg.OPEN)
    crossed = settlement.settle_crossed(PARENT, LATER)
    assert [(a.team_id, a.side, a.quantity, a.price) for a in crossed] == [
        ("a", Side.BUY, D(60), D("10.3")),
        ("b", Side.SELL, D(60), D("10.3")),
    ]
    assert str(crossed[0].price) == "10.3"  # canonical spelling
    assert all(a.crossed and a.fee == 0 for a in crossed)
    assert all(a.parent_client_order_id == PARENT for a in crossed)
    assert [a.trade_id for a in crossed] == ["a_202603121430_AAPL_x", "b_202603121430_AAPL_x"]


def test_the_cross_price_is_rounded_to_six_decimals() -> None:
    # 1 @ 10 and 2 @ 10.01 → 30.02 / 3 = 10.00666… → 10.006667.
    settlement = BlockSettlement(block(("a", "buy", 10), ("b", "sell", 7)), ONE)
    settlement.allocate_fill(fill(1, 10), Leg.OPEN)
    settlement.allocate_fill(fill(2, "10.01"), Leg.OPEN)
    assert settlement.cross_price() == D("10.006667")
    crossed = settlement.settle_crossed(PARENT, LATER)
    assert {a.price for a in crossed} == {D("10.006667")}


def test_crossed_quantity_settles_at_the_reference_price_when_nothing_filled() -> None:
    settlement = BlockSettlement(block(("a", "buy", 100), ("b", "sell", 60)), ONE)
    crossed = settlement.settle_crossed(PARENT, LATER)
    assert {a.price for a in crossed} == {D("187.5")}
    assert by_team(crossed) == {"a": D(60), "b": D(60)}


def test_a_fully_crossed_block_settles_every_team_at_the_reference_price() -> None:
    plan = block(("a", "buy", 50), ("b", "sell", 20), ("c", "sell", 30))
    settlement = BlockSettlement(plan, ONE)
    crossed = settlement.settle_crossed("net_202603121430_AAPL_x", LATER)
    assert [(a.team_id, a.side, a.quantity, a.price) for a in crossed] == [
        ("a", Side.BUY, D(50), D("187.5")),
        ("b", Side.SELL, D(20), D("187.5")),
        ("c", Side.SELL, D(30), D("187.5")),
    ]
    assert all(a.timestamp == LATER for a in crossed)


def test_crossed_shares_on_the_net_side_are_pro_rata() -> None:
    # Buyers A 30, B 10; seller C 20 → A crosses 15, B 5; residual A 15, B 5.
    settlement = BlockSettlement(block(("a", "buy", 30), ("b", "buy", 10), ("c", "sell", 20)), ONE)
    crossed = settlement.settle_crossed(PARENT, LATER)
    assert by_team(crossed) == {"a": D(15), "b": D(5), "c": D(20)}
    buys = sum(a.quantity for a in crossed if a.side is Side.BUY)
    sells = sum(a.quantity for a in crossed if a.side is Side.SELL)
    assert buys == sells == D(20)


def test_crossing_moves_cash_between_teams_and_creates_none() -> None:
    settlement = BlockSettlement(block(("a", "buy", 7), ("b", "buy", 3), ("c", "sell", 4)), ONE)
    settlement.allocate_fill(fill(3, "99.99"), Leg.OPEN)
    settlement.allocate_fill(fill(2, "100.02"), Leg.OPEN)
    crossed = settlement.settle_crossed(PARENT, LATER)
    assert sum(a.side.sign * a.quantity * a.price for a in crossed) == 0


def test_settling_twice_is_an_error() -> None:
    settlement = BlockSettlement(block(("a", "buy", 10), ("b", "sell", 5)), ONE)
    settlement.settle_crossed(PARENT, LATER)
    with pytest.raises(RuntimeError, match="already settled"):
        settlement.settle_crossed(PARENT, LATER)


def test_a_block_without_crossing_settles_to_nothing() -> None:
    settlement = BlockSettlement(block(("a", "buy", 10)), ONE)
    settlement.allocate_fill(fill(10, 10), Leg.OPEN)
    assert settlement.settle_crossed(PARENT, LATER) == []


def test_trade_ids_are_team_tagged_unique_and_name_their_parent() -> None:
    plan = block(("alpha", "buy", 40), ("beta", "buy", 20), ("gamma", "sell", 10), position=-20)
    settlement = BlockSettlement(plan, ONE)
    allocations = []
    allocations += settlement.allocate_fill(fill(15, 10, client_order_id="net_x_c"), Leg.CLOSE)
    allocations += settlement.allocate_fill(fill(5, 10, client_order_id="net_x_c"), Leg.CLOSE)
    allocations += settlement.allocate_fill(fill(30, 10, client_order_id="net_x_o"), Leg.OPEN)
    allocations += settlement.settle_crossed("net_x_c", LATER)
    ids = [a.trade_id for a in allocations]
    assert len(ids) == len(set(ids))
    for allocation in allocations:
        assert allocation.trade_id.startswith(allocation.team_id + "_")
    assert {a.parent_client_order_id for a in allocations if a.trade_id.endswith(("c1", "c2"))} == {
        "net_x_c"
    }
    assert {a.parent_client_order_id for a in allocations if a.trade_id.endswith("o1")} == {
        "net_x_o"
    }


def test_trade_ids_use_a_sanitised_symbol() -> None:
    settlement = BlockSettlement(block(("a", "buy", 3), ("b", "sell", 1), symbol="BRK.B"), ONE)
    [allocation] = settlement.allocate_fill(fill(2, 500, symbol="BRK.B"), Leg.OPEN)
    assert allocation.trade_id == "a_202603121430_BRK-B_o1"
    assert allocation.symbol == "BRK.B"


# --- the property ------------------------------------------------------------------------

TEAMS = ["a", "b", "c", "d", "e"]


@st.composite
def scenarios(draw: st.DrawFn):
    fractional = draw(st.booleans())
    quantum = NANO if fractional else ONE
    wants = draw(
        st.lists(
            st.tuples(
                st.sampled_from(TEAMS),
                st.sampled_from(["buy", "sell"]),
                st.integers(1, 5000 if fractional else 500),
            ),
            min_size=1,
            max_size=8,
        )
    )
    intents = [
        Intent(team, "AAPL", Side(side), D(q) * (D("0.01") if fractional else ONE))
        for team, side, q in wants
    ]
    position = D(draw(st.integers(-400, 400)))
    plans = plan_blocks(TICK, intents, {"AAPL": position}, PRICES)
    # For every leg, a sequence of partial fills (as fractions of what the leg has left)
    # and whether the leg is filled to the end.
    chunks = draw(st.lists(st.integers(1, 100), min_size=1, max_size=6))
    complete = draw(st.booleans())
    prices = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=6))
    fees = draw(st.lists(st.integers(0, 500), min_size=1, max_size=6))
    return plans, quantum, chunks, complete, prices, fees


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_settlement_property(scenario) -> None:
    plans, quantum, chunks, complete, prices, fees = scenario
    if not plans:
        return  # every team cancelled itself out
    [plan] = plans
    requested = {p.team_id: p.quantity for p in plan.participants}
    settlement = BlockSettlement(plan, quantum)
    got: Counter[str] = Counter()
    ids: list[str] = []
    step = 0
    for leg in plan.legs:
        left = leg.quantity
        for chunk in chunks:
            if left == 0:
                break
            quantity = max(quantum, (left * chunk / 100 / quantum).to_integral_value() * quantum)
            quantity = min(quantity, left)
            price = D(prices[step % len(prices)]) / 10_000
            fee = D(fees[step % len(fees)]) / 100
            step += 1
            the_fill = fill(quantity, price, side=leg.side, fee=str(fee))
            allocations = settlement.allocate_fill(the_fill, leg.leg)
            # Each fill's parts sum exactly to the fill: quantity, notional and fee.
            assert sum((a.quantity for a in allocations), D(0)) == quantity
            assert sum((a.fee for a in allocations), D(0)) == fee
            assert sum((a.quantity * a.price for a in allocations), D(0)) == quantity * price
            for a in allocations:
                assert a.quantity > 0
                assert a.quantity % quantum == 0
                assert a.side is leg.side
                assert a.price == price
                got[a.team_id] += a.quantity
                ids.append(a.trade_id)
            left -= quantity
            # Never more than a team waits for, never more than the residual.
            for team, amount in got.items():
                assert amount <= settlement.residual_share[team]
            assert sum(got.values(), D(0)) <= settlement.residual
        if complete and left > 0:
            rest = settlement.allocate_fill(fill(left, 100, side=leg.side), leg.leg)
            assert sum((a.quantity for a in rest), D(0)) == left
            for a in rest:
                got[a.team_id] += a.quantity
                ids.append(a.trade_id)
            left = D(0)
        if left == 0:
            with pytest.raises(OverfillError):
                settlement.allocate_fill(
                    fill(settlement.residual + quantum, 100, side=leg.side), leg.leg
                )
    crossed = settlement.settle_crossed(PARENT, LATER)
    # The crossed part: one price, equal on both sides, cash nets to exactly zero.
    assert len({a.price for a in crossed}) <= 1
    buys = sum((a.quantity for a in crossed if a.side is Side.BUY), D(0))
    sells = sum((a.quantity for a in crossed if a.side is Side.SELL), D(0))
    assert buys == sells == plan.crossed
    assert sum((a.side.sign * a.quantity * a.price for a in crossed), D(0)) == 0
    ids += [a.trade_id for a in crossed]
    assert len(ids) == len(set(ids))
    # No team ever gets more than it asked for, on its own side.
    for a in crossed:
        assert a.side is next(p.side for p in plan.participants if p.team_id == a.team_id)
        got[a.team_id] += a.quantity
    for team, amount in got.items():
        assert amount <= requested[team]
    if complete and plan.unsendable == 0:
        assert dict(got) == requested
    elif complete:  # a fractional short no broker order carries stays unfilled (0025)
        assert sum(got.values(), D(0)) == sum(requested.values(), D(0)) - plan.unsendable


def test_a_fill_of_the_wrong_side_or_symbol_is_refused_not_allocated() -> None:
    settlement = BlockSettlement(block(("a", "buy", 10)), ONE)
    with pytest.raises(SettlementError, match="does not match the block"):
        settlement.allocate_fill(fill(5, 10, side=Side.SELL), Leg.OPEN)
    assert settlement.filled == {"a": D(0)}


def test_a_team_that_asked_for_whole_shares_keeps_whole_shares_where_it_can() -> None:
    """Issue 13, observation 3: fractions allowed, a whole-share buyer and a fractional one
    cross a seller. The whole-share team's crossed part and its part of a partial broker
    fill are whole; the fractions go to the fractional team; every sum stays exact."""
    fine = D("0.000000001")
    plan = block(("whole", "buy", 10), ("frac", "buy", "2.5"), ("seller", "sell", 6))
    settlement = BlockSettlement(plan, fine)
    # Pro rata 4.8 and 1.2: the whole-share team gets 5, the fractional one 1.
    assert settlement.crossed_share == {"whole": D(5), "frac": D(1), "seller": D(6)}
    parts = by_team(settlement.allocate_fill(fill(3, 100), Leg.OPEN))
    assert parts["whole"] == parts["whole"].to_integral_value()
    assert sum(parts.values()) == D(3)
    assert parts == {"whole": D(2), "frac": D(1)}  # pro rata 2.31 and 0.69
