"""One close rule (decision 0023): a signal of the session's last minute expires, crossings
included, and the session's last snapshot holds every trade of the session."""

from __future__ import annotations

from decimal import Decimal

from app.config.registry import load_registry
from app.ledger.jsonl import read_jsonl
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from tests.conftest import DAY, error_lines

LAST = 389  # the call of 15:59 New York: the session's last minute


def buy(qty: int) -> dict:
    return {"symbol": "AAPL", "action": "buy", "quantity": qty}


def sell(qty: int) -> dict:
    return {"symbol": "AAPL", "action": "sell", "quantity": qty}


def replay_one_session(write_registry, real_bars, tmp_path, scripts: dict) -> tuple:
    teams = {team: ("scripted.py", "ScriptedStrategy", {"script": s}, 100_000)
             for team, s in scripts.items()}  # fmt: skip
    registry = load_registry(write_registry(teams))
    market = ReplayMarket.load(real_bars, {"AAPL", "SPY"}, DAY, DAY)
    data = tmp_path / "data"
    competition = build_competition(registry, market, data, durability="close")
    assert competition.run(market.minutes()) == []
    return data, market


def position_from_trades(data, team: str) -> tuple[Decimal, Decimal]:
    cash, quantity = Decimal(100_000), Decimal(0)
    path = data / "team" / team / "trades.jsonl"
    for t in read_jsonl(path) if path.exists() else []:
        sign = 1 if t["side"] == "buy" else -1
        quantity += sign * Decimal(t["quantity"])
        cash -= sign * Decimal(t["quantity"]) * Decimal(t["price"]) + Decimal(t["fee"])
    return cash, quantity


def test_signals_of_the_last_minute_expire_crossings_included_and_are_told(
    write_registry, real_bars, tmp_path
) -> None:
    data, market = replay_one_session(
        write_registry,
        real_bars,
        tmp_path,
        {"alpha": {"0": buy(10), str(LAST): buy(5)}, "beta": {"0": buy(10), str(LAST): sell(5)}},
    )
    assert market.minutes()[LAST].isoformat() == "2026-03-12T19:59:00+00:00"
    for team in ("alpha", "beta"):
        trades = list(read_jsonl(data / "team" / team / "trades.jsonl"))
        assert [t["quantity"] for t in trades] == ["10"]  # nothing traded at or after the close
        assert all(t["timestamp"] < "2026-03-12T20:00:00Z" for t in trades)
        expired = [e for e in error_lines(data / "team" / team) if e["kind"] == "expired"]
        assert [e["timestamp"] for e in expired] == ["2026-03-12T20:00:00Z"]
        assert "5 AAPL expired" in expired[0]["message"]
        assert "last minute" in expired[0]["message"]


def test_the_sessions_last_snapshot_holds_every_trade_of_the_session(
    write_registry, real_bars, tmp_path
) -> None:
    # At 15:59 beta's buy of 4 would cross alpha's sell of 6 inside the host and send the
    # other 2 to the broker, where they expire at the close: the crossing then settled at
    # the session's end, after the minute's snapshot.
    data, _ = replay_one_session(
        write_registry,
        real_bars,
        tmp_path,
        {"alpha": {"0": buy(10), "388": sell(4), str(LAST): sell(6)}, "beta": {str(LAST): buy(4)}},
    )
    for team in ("alpha", "beta"):
        snapshots = list(read_jsonl(data / "team" / team / "portfolio" / f"{DAY}.jsonl"))
        last = snapshots[-1]
        cash, quantity = position_from_trades(data, team)
        held = Decimal(last["positions"].get("AAPL", {}).get("quantity", "0"))
        assert (Decimal(last["cash"]), held) == (cash, quantity), team
        assert last["timestamp"] == "2026-03-12T20:00:00Z"
