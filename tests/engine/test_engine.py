"""The tick pipeline end to end: registry → strategies → validation → netting → the
simulated broker → allocation → ledgers, on small markets written out in each test."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from app.config.registry import load_registry
from app.ledger.jsonl import read_jsonl
from app.runtime.competition import Competition, build_competition
from tests.conftest import ScriptedMarket, bar, error_lines, minute

D = Decimal


def run(registry_path: Path, market: ScriptedMarket, data_dir: Path) -> Competition:
    competition = build_competition(load_registry(registry_path), market, data_dir)
    problems = competition.run(market.minutes())
    assert problems == []
    return competition


def lines(data_dir: Path, owner: str, kind: str) -> list[dict]:
    folder = data_dir / "account" if owner == "account" else data_dir / "team" / owner
    if kind == "errors":
        return error_lines(folder)
    path = folder / f"{kind}.jsonl"
    return list(read_jsonl(path)) if path.exists() else []


def aaa_market(closes: list[float], opens: list[float] | None = None) -> ScriptedMarket:
    opens = opens or closes
    return ScriptedMarket(
        {
            minute(14, i): {"AAA": bar("AAA", minute(14, i), c, o)}
            for i, (c, o) in enumerate(zip(closes, opens, strict=True))
        }
    )


def test_opposite_intents_cross_inside_and_only_the_residual_reaches_the_broker(
    write_registry, tmp_path
):
    # beta buys 60 first (to have something to sell); at call 2 alpha buys 100 and beta
    # sells 60: 60 cross inside, 40 go to the broker and fill at minute 3's open, 10.30.
    registry = write_registry(
        {
            "alpha": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"2": {"symbol": "AAA", "action": "buy", "quantity": 100}}},
                100_000,
            ),
            "beta": (
                "scripted.py",
                "ScriptedStrategy",
                {
                    "script": {
                        "0": {"symbol": "AAA", "action": "buy", "quantity": 60},
                        "2": {"symbol": "AAA", "action": "sell", "quantity": 60},
                    }
                },
                100_000,
            ),
        }
    )
    market = aaa_market([10.0, 10.1, 10.2, 10.4, 10.5], opens=[10.0, 10.05, 10.2, 10.3, 10.5])
    competition = run(registry, market, tmp_path / "data")

    alpha = lines(tmp_path / "data", "alpha", "trades")
    beta = lines(tmp_path / "data", "beta", "trades")
    account = lines(tmp_path / "data", "account", "trades")
    assert [(t["trade_id"], t["quantity"], t["price"], t["crossed"]) for t in alpha] == [
        ("alpha_202603121402_AAA_o1", "40", "10.3", False),
        ("alpha_202603121402_AAA_x", "60", "10.3", True),
    ]
    assert [(t["trade_id"], t["side"], t["quantity"], t["price"]) for t in beta] == [
        ("beta_202603121400_AAA_o1", "buy", "60", "10.05"),
        ("beta_202603121402_AAA_x", "sell", "60", "10.3"),
    ]
    # The broker saw beta's own order and one netted order of 40, nothing else.
    assert [(f["client_order_id"], f["quantity"]) for f in account] == [
        ("beta_202603121400_AAA_o", "60"),
        ("net_202603121402_AAA_o", "40"),
    ]
    assert alpha[0]["parent_client_order_id"] == "net_202603121402_AAA_o"
    books = competition.engine.books
    assert books["alpha"].portfolio.cash == D(100_000) - D("1030")  # 100 × 10.30, exact
    assert books["beta"].portfolio.cash == D(100_000) - D("603") + D(
        "618"
    )  # bought 10.05, sold 10.30
    assert competition.engine.account.positions() == {"AAA": D(100)}
    assert competition.engine.broker.positions() == {"AAA": D(100)}


def test_a_long_to_short_flip_goes_out_as_a_close_leg_then_an_open_leg(write_registry, tmp_path):
    # alpha holds 10; beta (shorting allowed) sells 30: the account goes from +10 to -20,
    # which a broker refuses in one order: close 10 (fills minute 3), then open 20 (minute 4).
    registry = write_registry(
        {
            "alpha": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"0": {"symbol": "AAA", "action": "buy", "quantity": 10}}},
                1000,
            ),
            "beta": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"2": {"symbol": "AAA", "action": "sell", "quantity": 30}}},
                1000,
            ),
        },
        competition={"rules": {"allow_short": True}},
    )
    market = aaa_market([10.0, 10.0, 10.0, 11.0, 12.0, 12.0], opens=[10, 10, 10, 11, 12, 12])
    competition = run(registry, market, tmp_path / "data")

    account = lines(tmp_path / "data", "account", "trades")
    assert [(f["client_order_id"], f["side"], f["quantity"], f["price"]) for f in account] == [
        ("alpha_202603121400_AAA_o", "buy", "10", "10"),
        ("beta_202603121402_AAA_c", "sell", "10", "11"),
        ("beta_202603121402_AAA_o", "sell", "20", "12"),
    ]
    beta = lines(tmp_path / "data", "beta", "trades")
    assert [t["trade_id"] for t in beta] == ["beta_202603121402_AAA_c1", "beta_202603121402_AAA_o1"]
    assert competition.engine.books["beta"].portfolio.quantity("AAA") == D(-30)
    assert competition.engine.broker.positions() == {"AAA": D(-20)}
    journal = list(read_jsonl(tmp_path / "data" / "orders" / "journal.jsonl"))
    order_of_events = [(r["event"], r["client_order_id"]) for r in journal]
    close_id, open_id = "beta_202603121402_AAA_c", "beta_202603121402_AAA_o"
    # The open leg is journaled (and sent) only after the close leg's outcome.
    assert order_of_events.index(("outcome", close_id)) < order_of_events.index(("submit", open_id))


def test_faults_are_recorded_with_the_teams_own_traceback_and_repeated_faults_disable(
    write_registry, tmp_path
):
    registry = write_registry(
        {
            "broken": ("raising.py", "RaisingStrategy", {}, 1000),
            "steady": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"6": {"symbol": "AAA", "action": "buy", "quantity": 1}}},
                1000,
            ),
        }
    )
    competition = run(registry, aaa_market([10.0] * 9), tmp_path / "data")

    errors = lines(tmp_path / "data", "broken", "errors")
    faults = [e for e in errors if e["kind"] == "exception"]
    assert len(faults) == 5  # then disabled: not called again
    assert faults[0]["message"].startswith("KeyError: 'NOPE'")
    assert "raising.py:5 in helper" in faults[0]["message"]
    assert "sandbox" not in faults[0]["message"]  # host frames are trimmed away
    assert [e["printed"] for e in errors if e["kind"] == "output"][:2] == ["call 1\n", "call 2\n"]
    assert errors[-1]["kind"] == "disabled"
    assert competition.engine.books["broken"].enabled is False
    # The other team was unaffected: its minute-6 order filled at minute 7.
    assert [t["trade_id"] for t in lines(tmp_path / "data", "steady", "trades")] == [
        "steady_202603121406_AAA_o1"
    ]


def test_malformed_output_is_rejected_with_a_reason_and_never_trades(write_registry, tmp_path):
    registry = write_registry({"junk": ("junk.py", "JunkStrategy", {}, 1_000_000)})
    run(registry, aaa_market([10.0] * 6), tmp_path / "data")

    errors = lines(tmp_path / "data", "junk", "errors")
    messages = [e["message"] for e in errors if e["kind"] == "rejected_signal"]
    assert "generate_signal returned int" in messages[0]
    assert "generate_signal returned str" in messages[1]
    assert "a signal must be a dict, got int" in messages[2]
    assert any("'action' must be 'buy' or 'sell', got 'hold'" in m for m in messages)
    assert any("'quantity' must be a finite number" in m for m in messages)
    # The 50-signal list: 20 accepted (1 share each, within cash), 30 refused in one line.
    assert any(
        "too many signals: at most 20 per minute; 30 more were ignored" in m for m in messages
    )
    trades = lines(tmp_path / "data", "junk", "trades")
    assert sum(D(t["quantity"]) for t in trades) == 0  # minute 5's orders had no later bar
    assert all(e["kind"] != "exception" for e in errors)


def test_a_limit_order_rests_in_the_host_until_a_close_reaches_it(write_registry, tmp_path):
    registry = write_registry(
        {
            "alpha": (
                "scripted.py",
                "ScriptedStrategy",
                {
                    "script": {
                        "0": {
                            "symbol": "AAA",
                            "action": "buy",
                            "quantity": 5,
                            "order_type": "limit",
                            "limit_price": 9.5,
                        }
                    }
                },
                1000,
            )
        }
    )
    market = aaa_market([10.0, 9.8, 9.6, 9.45, 9.5, 9.7], opens=[10, 9.9, 9.7, 9.5, 9.48, 9.6])
    run(registry, market, tmp_path / "data")

    trades = lines(tmp_path / "data", "alpha", "trades")
    # Minute 3 closes at 9.45 ≤ 9.5: released then, filled at minute 4's open.
    assert [(t["trade_id"], t["price"]) for t in trades] == [("alpha_202603121403_AAA_o1", "9.48")]


def test_an_order_placed_in_the_last_minute_expires_at_the_close_and_frees_its_cash(
    write_registry, tmp_path
):
    # Call 1 is the session's last minute (19:59 UTC on 2026-03-12); call 2 is the next
    # session's first minute, when the whole cash is needed again.
    spend_all = {"symbol": "AAA", "action": "buy", "quantity": 100}
    registry = write_registry(
        {
            "alpha": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"1": spend_all, "2": spend_all}},
                1000,
            )
        }
    )
    minutes = [minute(19, 58), minute(19, 59), minute(13, 30, day=13), minute(13, 31, day=13)]
    market = ScriptedMarket({m: {"AAA": bar("AAA", m, 10.0)} for m in minutes})
    competition = run(registry, market, tmp_path / "data")

    errors = lines(tmp_path / "data", "alpha", "errors")
    assert [e["kind"] for e in errors] == ["order"]
    assert "expired" in errors[0]["message"]
    assert "100 AAA" in errors[0]["message"]
    trades = lines(tmp_path / "data", "alpha", "trades")
    assert [t["trade_id"] for t in trades] == ["alpha_202603131330_AAA_o1"]
    assert competition.engine.books["alpha"].exposure.reserved_cash == 0
    # The day was folded into Parquet when the session ended.
    assert (tmp_path / "data" / "team" / "alpha" / "portfolio.parquet").exists()


def test_strategies_see_read_only_windows_with_real_gaps_and_only_their_own_team(
    write_registry, tmp_path
):
    registry = write_registry(
        {
            "probe": ("window_probe.py", "WindowProbe", {"k": 1}, 5000),
            "other": (
                "scripted.py",
                "ScriptedStrategy",
                {"script": {"0": {"symbol": "AAA", "action": "buy", "quantity": 1}}},
                5000,
            ),
        }
    )
    # BBB has no bar at minute 1: a gap, not an invented bar.
    market = ScriptedMarket(
        {
            minute(14, 0): {
                "AAA": bar("AAA", minute(14, 0), 10),
                "BBB": bar("BBB", minute(14, 0), 20),
            },
            minute(14, 1): {"AAA": bar("AAA", minute(14, 1), 11)},
            minute(14, 2): {
                "AAA": bar("AAA", minute(14, 2), 12),
                "BBB": bar("BBB", minute(14, 2), 21),
            },
        }
    )
    run(registry, market, tmp_path / "data")
    printed = [e["printed"] for e in lines(tmp_path / "data", "probe", "errors")]
    seen = [ast.literal_eval(text) for text in printed]

    assert [s["lengths"] for s in seen] == [
        {"AAA": 1, "BBB": 1},
        {"AAA": 2, "BBB": 1},
        {"AAA": 3, "BBB": 2},
    ]
    assert seen[1]["prices"] == {"AAA": 11.0, "BBB": 20.0}  # BBB's last close carries forward
    assert seen[1]["last_ts"]["BBB"] == "2026-03-12T14:00:00"
    assert not any(s["writeable"] for s in seen)
    assert seen[0]["team"] == {
        "id": "probe",
        "name": "Probe",
        "cash": 5000.0,
        "positions": {},
        "params": {"k": 1},
        "bars_missing": False,  # a gap is not a missing minute (decision 0028)
        "missing_minutes": [],
    }
    assert seen[2]["history"] == [10.0, 11.0, 12.0]  # served by the host, no look-ahead
    assert "n" in seen[2]["bad_request"]


def test_an_unaffordable_limit_is_refused_when_placed_not_when_it_would_trigger(
    write_registry, tmp_path
):
    registry = write_registry(
        {
            "alpha": (
                "scripted.py",
                "ScriptedStrategy",
                {
                    "script": {
                        "0": {
                            "symbol": "AAA",
                            "action": "buy",
                            "quantity": 500,
                            "order_type": "limit",
                            "limit_price": 9.0,
                        }
                    }
                },
                1000,
            )
        }
    )
    competition = run(registry, aaa_market([10.0, 9.0, 9.0]), tmp_path / "data")
    errors = lines(tmp_path / "data", "alpha", "errors")
    assert [e["timestamp"] for e in errors] == ["2026-03-12T14:01:00Z"]  # at placement
    assert "insufficient cash" in errors[0]["message"]
    assert competition.engine.books["alpha"].resting_limits == []
    assert lines(tmp_path / "data", "alpha", "trades") == []


def test_a_failure_reading_one_teams_signals_is_that_teams_refusal(
    write_registry, tmp_path, monkeypatch, caplog
):
    """Crash-only towards the team: a gap in the checks costs its team the minute's signals."""
    import app.engine.signals as engine_module  # where the signals are read

    real = engine_module.parse_signals

    def fragile(team_id, output, prices, rules):
        if team_id == "junk":
            raise OverflowError("a value the checks did not expect")
        return real(team_id, output, prices, rules)

    monkeypatch.setattr(engine_module, "parse_signals", fragile)
    registry = write_registry(
        {
            "junk": ("junk.py", "JunkStrategy", {}, 1_000_000),
            "churn": ("churn.py", "ChurnStrategy", {"symbols": ["AAA"]}, 1_000_000),
        }
    )
    run(registry, aaa_market([10.0] * 6), tmp_path / "data")
    refusals = [
        e for e in lines(tmp_path / "data", "junk", "errors") if e["kind"] == "rejected_signal"
    ]
    assert refusals
    assert all(
        "could not read this minute's signals (OverflowError)" in e["message"] for e in refusals
    )
    assert lines(tmp_path / "data", "churn", "trades")  # the other team traded on
    assert "reading team junk's signals failed" in caplog.text


def test_every_accepted_signal_is_an_event_with_its_reason_and_a_resting_limit_only_once(
    write_registry, tmp_path
):
    """The team's events say what its strategy did: each signal that passed, in its order,
    after the minute's refusals; a limit that rests and later fills is accepted once."""
    buy = {"symbol": "AAA", "action": "buy", "quantity": 5, "reason": "cheap"}
    too_big = {"symbol": "AAA", "action": "buy", "quantity": 10_000}
    limit = {
        "symbol": "AAA",
        "action": "buy",
        "quantity": 2,
        "order_type": "limit",
        "limit_price": 9.0,
        "reason": "dip",
    }
    script = {"0": [buy, too_big, limit]}
    team = ("scripted.py", "ScriptedStrategy", {"script": script}, 1000)
    registry = write_registry({"alpha": team})
    run(registry, aaa_market([10.0, 10.0, 9.0, 9.0]), tmp_path / "data")
    events = lines(tmp_path / "data", "alpha", "events")
    assert [(e["kind"], e["signal_index"]) for e in events] == [
        ("rejected_signal", 1),
        ("signal_accepted", 0),
        ("signal_accepted", 2),
    ]
    market, resting = events[1], events[2]
    assert (market["symbol"], market["side"], market["quantity"]) == ("AAA", "buy", "5")
    assert market["reason"] == "cheap"
    assert market["resting"] is False
    assert market["message"] == "accepted: buy 5 AAA at market"
    assert resting["resting"] is True
    assert resting["limit_price"] == "9"
    assert resting["reason"] == "dip"
    assert all(e["timestamp"] == "2026-03-12T14:01:00Z" for e in events)
    trades = lines(tmp_path / "data", "alpha", "trades")
    assert [t["quantity"] for t in trades] == ["5", "2"]  # the limit filled later, once
    assert lines(tmp_path / "data", "alpha", "errors") == events[:1]
