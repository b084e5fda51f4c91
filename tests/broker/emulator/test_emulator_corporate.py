"""The emulator's corporate actions (decision 0030): a replay input's dividend and split
columns (or a side file) are announced over alpaca-py's CorporateActionsClient, and applied
to the account at the ex-date's open as Alpaca lists them: DIV and SPLIT activities."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.requests import CorporateActionsRequest

from app.broker.emulator import EmulatorServer, load_state
from app.engine.ports import CorporateActionsUnavailableError
from app.market.alpaca_corporate import AlpacaCorporateActions
from tests.conftest import KEY, REPO, SECRET, Emu

YAHOO = REPO / "tests" / "fixtures" / "replay_inputs" / "yahoo"


def test_a_replay_inputs_columns_are_announced_and_read_back_as_actions() -> None:
    state = load_state(YAHOO, api_key=KEY, secret_key=SECRET)
    with EmulatorServer(state) as server:
        client = CorporateActionsClient(KEY, SECRET, url_override=server.url)
        raw = client.get_corporate_actions(
            CorporateActionsRequest(start=date(2026, 3, 1), end=date(2026, 3, 31))
        )
        assert sorted(raw.data) == ["cash_dividends", "forward_splits"]
        split = raw.data["forward_splits"][0]
        assert (split.symbol, split.new_rate, split.old_rate) == ("MSFT", 2.0, 1.0)
        feed = AlpacaCorporateActions(client, ["AAPL", "MSFT"])
        actions = {a.action_id: a.amount for a in feed(date(2026, 3, 12), date(2026, 3, 13))}
        assert actions == {"dividend-AAPL-2026-03-13-0.26": Decimal("0.26"),
                           "split-MSFT-2026-03-13": Decimal(2)}  # fmt: skip
        assert feed(date(2026, 3, 13), date(2026, 3, 20)) == []  # after < ex-date <= through


def test_held_positions_are_paid_and_split_at_the_ex_dates_open() -> None:
    state = load_state(YAHOO, api_key=KEY, secret_key=SECRET, allow_fractional=False)
    with EmulatorServer(state) as server:
        emu = Emu(server)
        trading = emu.trading()
        for symbol, side, qty in (("AAPL", "sell", 3), ("MSFT", "buy", 5)):
            body = {"symbol": symbol, "qty": qty, "side": side, "type": "market",
                    "time_in_force": "day"}  # fmt: skip
            assert emu.raw("POST", "/v2/orders", json=body).status_code == 200
        state.advance(until=datetime(2026, 3, 12, 20, 0, tzinfo=UTC))  # filled, session over
        cash = Decimal(state.summary()["cash"])
        assert state.summary()["positions"] == {"AAPL": "-3", "MSFT": "5"}
        entry = Decimal(trading.get_open_position("MSFT").avg_entry_price)
        state.advance(1)  # to the next open: the actions apply
        assert state.summary()["positions"] == {"AAPL": "-3", "MSFT": "10"}
        assert Decimal(state.summary()["cash"]) == cash - Decimal("0.78")  # the short pays
        activities = trading.get("/account/activities", {"activity_types": "DIV,SPLIT"})
        assert [(a["activity_type"], a["symbol"], a["net_amount"]) for a in activities] == [
            ("SPLIT", "MSFT", "0.00"),
            ("DIV", "AAPL", "-0.78"),
        ]
        after = Decimal(trading.get_open_position("MSFT").avg_entry_price)
        assert after == (entry / 2).quantize(after)  # the basis is kept: the entry halves


def test_a_faulted_announcements_route_is_retried_then_said_unavailable() -> None:
    state = load_state(YAHOO, api_key=KEY, secret_key=SECRET, faults="burst500:2@data")
    with EmulatorServer(state) as server:
        client = CorporateActionsClient(KEY, SECRET, url_override=server.url)
        feed = AlpacaCorporateActions(client, ["AAPL", "MSFT"], deadline_seconds=2)
        assert len(feed(date(2026, 3, 12), date(2026, 3, 13))) == 2  # the third ask
        assert feed.failures == 2
        Emu(server).faults("500:1@data")
        with pytest.raises(CorporateActionsUnavailableError, match="attempt"):
            feed(date(2026, 3, 12), date(2026, 3, 13))
