"""The host's own working orders (decision 0025): while an order of the host's is still
working on a symbol (a gap in its bars, a partial fill), new intents on that symbol wait
for it, so the broker never sees the host trade against itself ("potential wash trade")
or sell what an open order already sells."""

from __future__ import annotations

from app.config.registry import load_registry
from app.ledger.jsonl import read_jsonl
from app.runtime.competition import build_competition
from tests.conftest import ScriptedMarket, bar, minute


def test_an_opposite_intent_waits_for_the_hosts_working_order_then_trades(
    write_registry, tmp_path
) -> None:
    # AAA has no bar at 14:01: alpha's buy from 14:00 is still working when beta sells.
    aaa = {m: bar("AAA", minute(14, m), 10.0) for m in (0, 2, 3)}
    market = ScriptedMarket(
        {
            minute(14, m): {
                "BBB": bar("BBB", minute(14, m), 5.0),
                **({"AAA": aaa[m]} if m in aaa else {}),
            }
            for m in range(4)
        }
    )
    buy = {"symbol": "AAA", "action": "buy", "quantity": 10}
    sell = {"symbol": "AAA", "action": "sell", "quantity": 4}
    registry = write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy", {"script": {"0": buy}}, 10_000),
            "beta": ("scripted.py", "ScriptedStrategy", {"script": {"1": sell}}, 10_000),
        },
        {"rules": {"allow_short": True}},
    )
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market, data)
    assert competition.run(market.minutes()) == []
    journal = list(read_jsonl(data / "orders" / "journal.jsonl"))
    events = [(r["event"], r["client_order_id"]) for r in journal if r["event"] != "fill"]
    alpha_order = next(cid for event, cid in events if event == "submit")
    beta_submit = next(
        i for i, (e, cid) in enumerate(events) if e == "submit" and cid != alpha_order
    )
    alpha_done = events.index(("outcome", alpha_order))
    assert alpha_done < beta_submit  # never both working at once
    waited = [e for e in read_jsonl(data / "team" / "beta" / "events.jsonl")
              if e["kind"] == "signal_accepted"]  # fmt: skip
    assert "waiting" in waited[0]["message"]
    assert waited[0]["resting"] is True
    trades = list(read_jsonl(data / "team" / "beta" / "trades.jsonl"))
    assert [(t["side"], t["quantity"]) for t in trades] == [("sell", "4")]


def test_a_fractional_short_no_broker_takes_stays_unfilled_and_the_team_is_told(
    write_registry, tmp_path
) -> None:
    """alpha buys 5.049 while beta shorts 85: crossed 5.049, and the residual short of 79.951
    goes to the broker as 79 whole shares; beta's other 0.951 does not fill, and it is told."""
    market = ScriptedMarket(
        {minute(14, m): {"AAA": bar("AAA", minute(14, m), 10.0)} for m in range(3)}
    )
    buy = {"symbol": "AAA", "action": "buy", "quantity": 5.049}
    short = {"symbol": "AAA", "action": "sell", "quantity": 85}
    registry = write_registry(
        {
            "alpha": ("scripted.py", "ScriptedStrategy", {"script": {"0": buy}}, 10_000),
            "beta": ("scripted.py", "ScriptedStrategy", {"script": {"0": short}}, 10_000),
        },
        {"rules": {"allow_short": True, "allow_fractional": True}},
    )
    data = tmp_path / "data"
    competition = build_competition(load_registry(registry), market, data)
    assert competition.run(market.minutes()) == []  # the teams' books equal the broker's
    submits = [r for r in read_jsonl(data / "orders" / "journal.jsonl") if r["event"] == "submit"]
    assert [(r["side"], r["quantity"]) for r in submits] == [("sell", "79")]
    told = [e["message"] for e in read_jsonl(data / "team" / "beta" / "events.jsonl")
            if e["kind"] == "order"]  # fmt: skip
    assert len(told) == 1
    assert "0.951 AAA of your order did not fill" in told[0]
    assert "fractional short" in told[0]
