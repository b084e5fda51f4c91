"""The organiser's kill switch in the engine: block refuses every signal, cancel withdraws
the open orders, flatten closes every team's positions through the normal pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.config.registry import load_registry
from app.engine.controls import KillMode
from app.ledger.jsonl import read_jsonl
from app.runtime.competition import build_competition
from app.runtime.controls import release_kill_switch, throw_kill_switch
from tests.conftest import ScriptedMarket, bar, error_lines, minute

D = Decimal


def buy(qty: int, symbol: str = "AAA", **extra) -> dict:
    return {"symbol": symbol, "action": "buy", "quantity": qty, **extra}


def market(n: int) -> ScriptedMarket:
    return ScriptedMarket(
        {
            minute(14, i): {
                "AAA": bar("AAA", minute(14, i), 10.0 + i / 10),
                "BBB": bar("BBB", minute(14, i), 50.0),
            }
            for i in range(n)
        }
    )


def teams(write_registry, alpha_script: dict, beta_script: dict):
    return write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy", {"script": alpha_script}, 100_000),
            "beta": ("scripted.py", "ScriptedStrategy", {"script": beta_script}, 100_000),
        }
    )


def lines(data_dir, owner: str, kind: str) -> list[dict]:
    folder = data_dir / "account" if owner == "account" else data_dir / "team" / owner
    if kind == "errors":
        return error_lines(folder)
    path = folder / f"{kind}.jsonl"
    return list(read_jsonl(path)) if path.exists() else []


def test_block_refuses_every_signal_with_the_reason_and_release_lets_trading_go_on(
    write_registry, tmp_path
):
    script = {str(i): buy(1) for i in range(6)}
    registry = teams(write_registry, script, {})
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market(6), data)
    engine = competition.engine
    minutes = market(6).minutes()
    engine.tick(minutes[0])
    throw_kill_switch(data, KillMode.BLOCK, by="test")
    engine.tick(minutes[1])
    engine.tick(minutes[2])
    release_kill_switch(data, by="test")
    for m in minutes[3:]:
        engine.tick(m)
    assert competition.run([]) == []
    ticks = [t["tick"] for t in lines(data, "alpha", "trades")]
    assert "2026-03-12T14:01:00Z" not in ticks
    assert "2026-03-12T14:02:00Z" not in ticks
    assert "2026-03-12T14:00:00Z" in ticks
    assert "2026-03-12T14:03:00Z" in ticks
    refused = [e for e in lines(data, "alpha", "errors") if e["kind"] == "rejected_signal"]
    assert len(refused) == 2
    assert all("halted by the organiser (kill switch: block)" in e["message"] for e in refused)
    notes = [e["message"] for e in lines(data, "account", "errors")]
    assert "kill switch thrown: block" in notes


def test_cancel_withdraws_open_orders_and_tells_the_teams(write_registry, tmp_path):
    # A limit far below the market rests at the host; a market order for BBB is working at
    # the broker when the switch is thrown in the same minute it was sent.
    registry = teams(write_registry, {"0": buy(5, "BBB")}, {})
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market(4), data)
    engine = competition.engine
    minutes = market(4).minutes()
    engine.tick(minutes[0])  # the order goes out; it would fill at the next bar
    assert engine.execution.open_orders == 1
    throw_kill_switch(data, KillMode.CANCEL, by="test")
    for m in minutes[1:]:
        engine.tick(m)
    assert competition.run([]) == []
    assert lines(data, "alpha", "trades") == []
    told = [e["message"] for e in lines(data, "alpha", "errors") if e["kind"] == "order"]
    assert any("canceled" in m and "5 BBB" in m for m in told), told


def test_flatten_closes_every_position_through_the_pipeline_then_blocks(write_registry, tmp_path):
    registry = teams(
        write_registry,
        {"0": [buy(10), buy(4, "BBB")], "3": buy(1)},
        {"0": buy(6), "3": buy(1)},
    )
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market(8), data)
    engine = competition.engine
    minutes = market(8).minutes()
    engine.tick(minutes[0])
    engine.tick(minutes[1])  # filled at this minute's open
    assert engine.books["alpha"].portfolio.quantity("AAA") == D(10)
    throw_kill_switch(data, KillMode.FLATTEN, by="test")
    for m in minutes[2:]:
        engine.tick(m)
    assert competition.run([]) == []  # teams' positions = account's = broker's
    for team in ("alpha", "beta"):
        assert engine.books[team].portfolio.positions == {} or all(
            p.quantity == 0 for p in engine.books[team].portfolio.positions.values()
        )
    closing = [t for t in lines(data, "alpha", "trades") if t["side"] == "sell"]
    assert {(t["symbol"], t["quantity"]) for t in closing} == {("AAA", "10"), ("BBB", "4")}
    assert engine.broker.positions() == {}
    refused = [e for e in lines(data, "beta", "errors") if e["kind"] == "rejected_signal"]
    assert refused
    assert "kill switch: flatten" in refused[0]["message"]


def test_a_damaged_switch_file_blocks_rather_than_trades(tmp_path):
    from app.runtime.controls import kill_switch_path, kill_switch_reader

    path = kill_switch_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    switch = kill_switch_reader(tmp_path)()
    assert switch is not None
    assert switch.mode is KillMode.BLOCK
    assert switch.since == datetime.fromtimestamp(0, UTC)


def test_the_organiser_disables_and_enables_a_team_at_the_next_tick(write_registry, tmp_path):
    from app.runtime.controls import set_team_enabled

    registry = teams(write_registry, {str(i): buy(1) for i in range(6)}, {})
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market(6), data)
    engine = competition.engine
    minutes = market(6).minutes()
    engine.tick(minutes[0])
    set_team_enabled(data, "alpha", False, by="test")
    engine.tick(minutes[1])
    engine.tick(minutes[2])
    assert not engine.books["alpha"].enabled
    set_team_enabled(data, "alpha", True, by="test")
    for m in minutes[3:]:
        engine.tick(m)
    assert competition.run([]) == []
    ticks = {t["tick"] for t in lines(data, "alpha", "trades")}
    assert "2026-03-12T14:01:00Z" not in ticks
    assert "2026-03-12T14:03:00Z" in ticks
    events = [e["message"] for e in lines(data, "alpha", "errors") if e["kind"] in
              ("disabled", "version")]  # fmt: skip
    assert events == ["disabled by the organiser", "enabled by the organiser"]
