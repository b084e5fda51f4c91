"""A small finished competition (two teams that trade and make mistakes) and an API over it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.config.registry import load_registry
from app.config.settings import ArenaSettings
from app.runtime.competition import build_competition
from app.web import create_app
from app.web.keys import ORGANISER, KeyStore
from tests.conftest import FIXTURE_STRATEGIES, ScriptedMarket, bar, minute


def signal(action: str, qty: int, symbol: str = "AAA") -> dict:
    return {"symbol": symbol, "action": action, "quantity": qty}


TEAMS = {
    "alpha": {"0": signal("buy", 10), "2": signal("sell", 4), "3": {"symbol": "ZZZ"}},
    "beta": {"0": signal("buy", 5, "BBB"), "1": signal("sell", 99, "BBB")},
}


@pytest.fixture(scope="module")
def arena_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(registry, data dir) of a finished six-minute competition."""
    folder = tmp_path_factory.mktemp("arena")
    teams = [
        {"team_id": team, "name": team.title(), "strategy": str(FIXTURE_STRATEGIES / "scripted.py"),
         "entry_point": "ScriptedStrategy", "initial_cash": 100_000, "params": {"script": script}}
        for team, script in TEAMS.items()
    ]  # fmt: skip
    registry = folder / "registry.yaml"
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": teams}, sort_keys=False))
    market = ScriptedMarket(
        {
            minute(14, i): {
                "AAA": bar("AAA", minute(14, i), 10.0 + i / 10),
                "BBB": bar("BBB", minute(14, i), 50.0 - i / 10),
            }
            for i in range(6)
        }
    )
    data = folder / "data"
    competition = build_competition(load_registry(registry), market, data)
    assert competition.run(market.minutes()) == []
    return registry, data


@pytest.fixture(scope="module")
def keys(arena_dir: tuple[Path, Path]) -> dict[str, str]:
    _registry, data = arena_dir
    return KeyStore(data).ensure(["alpha", "beta", ORGANISER])


@pytest.fixture(scope="module")
def client(arena_dir: tuple[Path, Path], keys: dict[str, str]) -> TestClient:
    registry, data = arena_dir
    settings = ArenaSettings(registry=registry, data_dir=data)
    return TestClient(create_app(settings))
