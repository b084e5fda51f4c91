"""Ledger lines that carry a team's text hold it within the stated caps."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.bounds import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PRINTED_CHARS,
    MAX_SIGNAL_CHARS,
)
from app.domain.models import Rejection
from app.engine.lines import SignalRefused, TeamEvent


def rejection_record(moment, rejection, version):
    return SignalRefused.refused(moment, rejection, version).to_json()


MOMENT = datetime(2026, 3, 12, 14, 1, tzinfo=UTC)


def test_a_fault_keeps_the_start_of_a_huge_message_and_of_huge_printed_output() -> None:
    record = TeamEvent.noted(
        MOMENT, "alpha", "exception", "E" * 200_000, "p" * 50_000, "v1"
    ).to_json()
    assert MAX_ERROR_CHARS - 40 <= len(record["message"]) <= MAX_ERROR_CHARS
    assert record["message"].startswith("EEEE")
    assert "more characters]" in record["message"]
    assert MAX_PRINTED_CHARS - 40 <= len(record["printed"]) <= MAX_PRINTED_CHARS
    assert record["printed"].startswith("pppp")


def test_text_within_the_caps_is_kept_as_it_is() -> None:
    printed = "p" * 4000 + "\n[print output truncated at 4000 characters]\n"
    record = TeamEvent.noted(MOMENT, "alpha", "exception", "E" * MAX_ERROR_CHARS, printed).to_json()
    assert record["message"] == "E" * MAX_ERROR_CHARS
    assert record["printed"] == printed


def test_a_rejection_line_caps_its_message_and_never_stores_the_raw_signal() -> None:
    raw = {"symbol": "AAPL", **{f"{i}{'k' * 990}": "v" * 990 for i in range(900)}}
    record = SignalRefused.refused(
        MOMENT, Rejection("alpha", 0, "R" * 100_000, raw), "v1"
    ).to_json()
    assert MAX_MESSAGE_CHARS - 40 <= len(record["message"]) <= MAX_MESSAGE_CHARS
    assert isinstance(record["signal"], str)
    assert len(record["signal"]) <= MAX_SIGNAL_CHARS
    assert record["signal"].startswith("{")


def test_a_rejection_keeps_a_short_copy_as_it_is_and_cuts_a_long_one() -> None:
    short = rejection_record(MOMENT, Rejection("alpha", 0, "why", "{'qty': 2}"), "v1")
    assert short["signal"] == "{'qty': 2}"
    assert short["message"] == "why"
    long = rejection_record(MOMENT, Rejection("alpha", 0, "why", "s" * 5000), "v1")
    assert len(long["signal"]) <= MAX_SIGNAL_CHARS
    assert rejection_record(MOMENT, Rejection("alpha", 0, "why"), "v1")["signal"] is None


# -- every line survives its own JSON ------------------------------------------------------

from decimal import Decimal  # noqa: E402

import orjson  # noqa: E402
import pytest  # noqa: E402

from app.domain.models import Allocation, Fill, Intent, Leg, Order, OrderType, Side  # noqa: E402
from app.domain.portfolio import Portfolio  # noqa: E402
from app.engine.lines import (  # noqa: E402
    AccountNote,
    AccountTradeLine,
    AllocationsLine,
    LedgerLimit,
    LineNotWritten,
    MetricsLine,
    OtherEvent,
    OutcomeLine,
    SignalAccepted,
    SnapshotLine,
    SubmitLine,
    TradeLine,
    parse_event,
    parse_journal,
    parse_trade,
)
from app.ledger.jsonl import encode_line  # noqa: E402


def _allocation(team: str = "alpha", crossed: bool = False) -> Allocation:
    return Allocation(
        team,
        f"{team}-t1",
        "alpha+beta_2026_AAPL_o",
        "AAPL",
        Side.BUY,
        Decimal("6"),
        Decimal("187.125"),
        Decimal("0.06"),
        MOMENT,
        crossed,
    )


def _fill() -> Fill:
    return Fill(
        "alpha+beta_2026_AAPL_o",
        "AAPL",
        Side.BUY,
        Decimal("10"),
        Decimal("187.125"),
        MOMENT,
        Decimal("0.1"),
        "exec-1",
    )


def _book() -> Portfolio:
    book = Portfolio.with_cash(Decimal("10000"))
    _apply(book)
    return book


def _apply(book: Portfolio):
    a = _allocation()
    return book.apply_fill(a.symbol, a.side, a.quantity, a.price, a.fee)


def _lines() -> list:
    book = _book()
    effect = _apply(_book())
    order = Order("cid-1", "AAPL", Side.SELL, Decimal("3"), OrderType.LIMIT, Decimal("190"), MOMENT)
    intent = Intent(
        "alpha", "AAPL", Side.BUY, Decimal("2"), OrderType.LIMIT, Decimal("180"), "dip", 3
    )
    return [
        TradeLine.booked(_allocation(), effect, book, MOMENT, "v1"),
        AccountTradeLine.booked(_fill(), effect, ["alpha", "beta"]),
        SnapshotLine.marked("alpha", MOMENT.date(), MOMENT, book, {"AAPL": Decimal("188")}),
        SnapshotLine.marked(None, MOMENT.date(), MOMENT, book, {}),
        MetricsLine(
            timestamp=MOMENT,
            owner="alpha",
            rank=1,
            figures={"sharpe": 1.5},
            strategy_version="v1",
            status="active",
        ),
        MetricsLine(timestamp=MOMENT, owner="account", figures={"trades": 3}),
        TeamEvent.noted(MOMENT, "alpha", "timeout", "too slow", "printed\n", "v1"),
        SignalRefused.refused(MOMENT, Rejection("alpha", 2, "why", {"qty": 1}), "v1"),
        SignalAccepted.accepted(MOMENT, intent, True, "v1"),
        AccountNote(timestamp=MOMENT, kind="control", message="kill switch thrown: block"),
        LedgerLimit(
            timestamp=MOMENT, team_id="alpha", message="m", dropped_lines=2, dropped_bytes=99
        ),
        LineNotWritten(
            timestamp=MOMENT, team_id="alpha", kind="output", message="m", line_bytes=30_000
        ),
        SubmitLine.before(MOMENT, order, MOMENT, Leg.CLOSE, {"alpha": Decimal("3")}),
        OutcomeLine(
            timestamp=MOMENT,
            client_order_id="cid-1",
            status="filled",
            filled_qty=Decimal("3"),
            avg_price=Decimal("190.5"),
            message="",
        ),
        AllocationsLine.before(
            MOMENT, "fill", MOMENT, [_allocation()], {"alpha": "v1"}, _fill(), Leg.OPEN
        ),
        AllocationsLine.before(MOMENT, "crossed", MOMENT, [_allocation(crossed=True)], {}),
    ]


def _read_back(line):  # what a reader makes of the bytes the writer wrote
    record = orjson.loads(encode_line(line.to_json()))
    channel = line.channel.value
    if channel == "trades":
        return parse_trade(record)
    if channel == "events":
        return parse_event(record)
    if channel == "journal":
        return parse_journal(record)
    return type(line).from_json(record)


@pytest.mark.parametrize("line", _lines(), ids=lambda line: type(line).__name__)
def test_a_line_read_back_is_the_line_written_and_writes_the_same_bytes(line) -> None:
    again = _read_back(line)
    assert type(again) is type(line)
    assert encode_line(again.to_json()) == encode_line(line.to_json())
    if not isinstance(line, SnapshotLine | MetricsLine):  # floats and routing aside
        assert again == line


def test_an_events_line_of_an_unknown_shape_is_kept_whole() -> None:
    odd = {
        "timestamp": "2026-03-12T14:01:00Z",
        "team_id": "alpha",
        "kind": "exception",
        "message": "m",
        "extra": [1, 2],
    }
    line = parse_event(odd)
    assert isinstance(line, OtherEvent)
    assert line.to_json() == odd
    assert line.kind == "exception"


def test_a_trade_line_without_a_field_it_needs_is_refused_with_the_field_named() -> None:
    record = TradeLine.booked(_allocation(), _apply(_book()), _book(), MOMENT, "v")
    broken = record.to_json()
    del broken["symbol"]
    with pytest.raises(ValueError, match="symbol"):
        TradeLine.from_json(broken)
