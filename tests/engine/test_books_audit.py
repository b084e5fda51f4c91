"""An audit of every book at every minute, with arithmetic of its own (issue 13).

All eight shared sessions are replayed with the demo teams and two wildly churning teams
(shorts and fractions allowed, fees and slippage set). From `trades.jsonl` and the bar
files alone, and with no code of the app's, every team's cash, positions and equity are
recomputed at every snapshot, session ends included. The account must be the sum of the
teams, and no fill may come at or before its signal's minute or after its session's close.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from app.config.registry import load_registry
from app.market.replay import ReplayMarket
from app.runtime.competition import build_competition
from tests.conftest import FIXTURE_STRATEGIES, REPO

pytestmark = pytest.mark.slow
MINUTE = timedelta(minutes=1)
WILD = ["SPY", "QQQ", "AAPL", "TSLA"]


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def registry_file(folder: Path) -> Path:
    demo = yaml.safe_load((REPO / "team_registry.yaml").read_text())
    for team in demo["teams"]:
        team["strategy"] = str(REPO / team["strategy"])
    wild = [
        {"team_id": f"wild{n}", "name": f"Wild {n}", "initial_cash": 100_000,
         "strategy": str(FIXTURE_STRATEGIES / "wild_churn.py"),
         "entry_point": "WildChurnStrategy",
         "params": {"symbols": WILD, "seed": n, "every": 2 + n, "fractions": True}}
        for n in (1, 2)
    ]  # fmt: skip
    document = {
        "competition": {
            "rules": {"allow_short": True, "allow_fractional": True},
            "broker": {"slippage_bps": "2", "fee_per_share": "0.005", "fee_bps": "1"},
        },
        "teams": demo["teams"] + wild,
    }
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def closes(bars: Path) -> dict[datetime, dict[str, Decimal]]:
    """Every bar's close, by minute: the CSVs read as text."""
    by_minute: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    for file in sorted(bars.glob("*.csv")):
        with file.open() as handle:
            for row in csv.DictReader(handle):
                by_minute[stamp(row["timestamp"])][file.stem] = Decimal(row["close"])
    return by_minute


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def snapshots(folder: Path) -> list[dict]:
    return [s for day in sorted((folder / "portfolio").glob("*.jsonl")) for s in lines(day)]


@pytest.fixture(scope="module")
def audited(real_bars, tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("audit")
    market = ReplayMarket.load(real_bars)
    data = folder / "data"
    competition = build_competition(
        load_registry(registry_file(folder)), market, data, durability="close"
    )
    assert competition.run(market.minutes()) == []
    return data, closes(real_bars)


def recompute(folder: Path, cash: Decimal, bars: dict, session_close: dict) -> dict[str, dict]:
    """Each snapshot's cash, positions and equity from the trades and the bars."""
    trades = lines(folder / "trades.jsonl")
    held: dict[str, Decimal] = defaultdict(Decimal)
    marks: dict[str, Decimal] = {}
    minutes = iter(sorted(bars))
    upcoming = next(minutes, None)
    t = 0
    expected = {}
    for snap in snapshots(folder):
        at = stamp(snap["timestamp"])
        minute = at.replace(second=0) - MINUTE  # the minute whose close it is marked at
        while upcoming is not None and upcoming <= minute:
            marks.update(bars[upcoming])
            upcoming = next(minutes, None)
        # Fills are stamped at their bar's start (booked in that minute's tick); crossings
        # at the moment of the tick that settled them.
        while t < len(trades) and (
            stamp(trades[t]["timestamp"]) < at
            or (trades[t]["crossed"] and stamp(trades[t]["timestamp"]) <= at)
        ):
            trade = trades[t]
            sign = 1 if trade["side"] == "buy" else -1
            quantity, price = Decimal(trade["quantity"]), Decimal(trade["price"])
            held[trade["symbol"]] += sign * quantity
            cash -= sign * quantity * price + Decimal(trade["fee"])
            check_timing(trade, session_close)
            t += 1
        positions = {s: q for s, q in held.items() if q != 0}
        value = sum((q * marks[s] for s, q in positions.items()), Decimal(0))
        expected[snap["timestamp"]] = {"cash": cash, "positions": positions, "equity": cash + value}
    assert t == len(trades), f"{len(trades) - t} trades after the last snapshot"
    return expected


def check_timing(trade: dict, session_close: dict) -> None:
    signal, filled = stamp(trade["tick"]), stamp(trade["timestamp"])
    close = session_close[signal.date()]
    assert filled > signal, f"filled at or before its signal's minute: {trade}"
    assert filled <= close if trade["crossed"] else filled < close, f"after the close: {trade}"


def test_every_book_at_every_minute_agrees_with_the_trades_and_the_bars(audited) -> None:
    data, bars = audited
    session_close = {}
    for minute in bars:
        session_close[minute.date()] = max(
            session_close.get(minute.date(), minute), minute + MINUTE
        )
    teams = sorted(p.name for p in (data / "team").iterdir())
    assert {"wild1", "wild2", "momentum"} <= set(teams)
    registered = yaml.safe_load((data.parent / "registry.yaml").read_text())["teams"]
    initial = {t["team_id"]: Decimal(t["initial_cash"]) for t in registered}
    totals: dict[str, dict] = {}
    for team in teams:
        folder = data / "team" / team
        expected = recompute(folder, initial[team], bars, session_close)
        for snap in snapshots(folder):
            want = expected[snap["timestamp"]]
            got_positions = {s: Decimal(p["quantity"]) for s, p in snap["positions"].items()}
            assert (Decimal(snap["cash"]), got_positions) == (want["cash"], want["positions"]), (
                team, snap["timestamp"])  # fmt: skip
            assert Decimal(snap["equity"]) == want["equity"], (team, snap["timestamp"])
            account = totals.setdefault(
                snap["timestamp"], {"cash": Decimal(0), "positions": defaultdict(Decimal)}
            )
            account["cash"] += want["cash"]
            for symbol, quantity in want["positions"].items():
                account["positions"][symbol] += quantity
    for snap in snapshots(data / "account"):
        want = totals[snap["timestamp"]]
        positions = {s: q for s, q in want["positions"].items() if q != 0}
        got = {s: Decimal(p["quantity"]) for s, p in snap["positions"].items()}
        assert (Decimal(snap["cash"]), got) == (want["cash"], positions), snap["timestamp"]


def test_the_wild_teams_traded_shorted_and_used_fractions(audited) -> None:
    """The audit above means something only if the edges were reached."""
    data, _ = audited
    trades = [
        t for team in ("wild1", "wild2") for t in lines(data / "team" / team / "trades.jsonl")
    ]
    assert len(trades) > 100
    assert any("." in t["quantity"] for t in trades)
    assert any(t["crossed"] for t in trades)
    shorts = [s for team in ("wild1", "wild2") for s in snapshots(data / "team" / team)
              if any(p["quantity"].startswith("-") for p in s["positions"].values())]  # fmt: skip
    assert shorts
