"""An upload observed end to end: posted through the API while the engine runs, swapped in
at a tick boundary, and the next signals carry the new version tag in the ledger."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import yaml
from fastapi.testclient import TestClient

from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.domain.timefmt import parse_rfc3339
from app.engine.clock import ReplayClock
from app.ledger.jsonl import read_jsonl
from app.market.synthetic import SyntheticMarket
from app.runtime.competition import build_competition
from app.web import create_app
from app.web.keys import KeyStore
from tests.conftest import FIXTURE_STRATEGIES, error_lines

BUYER = b"""
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return {"symbol": sorted(current_prices)[0], "action": "buy", "quantity": 1}
"""


def test_an_uploaded_version_trades_from_the_next_tick(tmp_path):
    registry = tmp_path / "registry.yaml"
    scripted = str(FIXTURE_STRATEGIES / "scripted.py")  # the old version never trades
    team = {"team_id": "alpha", "name": "Alpha", "strategy": scripted,
            "entry_point": "ScriptedStrategy", "initial_cash": 100_000}  # fmt: skip
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": [team]}))
    data = tmp_path / "data"
    market = SyntheticMarket(symbols=4)
    competition = build_competition(load_registry(registry), market, data)
    old_version = competition.engine.books["alpha"].version
    minutes = market.minutes()[:100]
    engine = threading.Thread(
        target=competition.run, args=(ReplayClock(minutes, speed=20).ticks(),), daemon=True
    )
    engine.start()
    key = KeyStore(data).ensure(["alpha"])["alpha"]
    with TestClient(create_app(ArenaSettings(registry=registry, data_dir=data))) as client:
        time.sleep(0.5)  # the engine is running: some minutes have passed with the old code
        answer = client.post("/api/v1/team/alpha/strategy", headers={"X-API-Key": key},
                             files={"file": ("strategy.py", BUYER)})  # fmt: skip
        assert answer.status_code == 201, answer.text
        new_version = answer.json()["version"]
        client.app.state.uploads.close()
    engine.join(timeout=60)
    assert not engine.is_alive()
    events = error_lines(data / "team" / "alpha")
    live = [e for e in events if e["kind"] == "version"]
    assert [e["message"] for e in live] == [f"version {new_version} is live from this minute"]
    trades = list(read_jsonl(data / "team" / "alpha" / "trades.jsonl"))
    assert trades, "the new version traded"
    assert {t["strategy_version"] for t in trades} == {new_version}
    assert new_version != old_version
    # Swapped in at a tick boundary and called in that very tick (stamped when it closed).
    went_live = parse_rfc3339(live[0]["timestamp"]) - timedelta(minutes=1)
    assert min(parse_rfc3339(t["tick"]) for t in trades) == went_live
