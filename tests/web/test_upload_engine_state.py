"""Issue 15, item 5: an upload says whether an engine is running on the competition. The
version is stored either way; with no engine running the answer is 202 and says so (it
goes live when one runs again); with uploads closed by the organiser it is 409 and nothing
is stored (decision 0032)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.config.settings import ArenaSettings
from app.runtime.presence import clear_engine_mark, mark_engine_running
from app.web import create_app
from app.web.keys import KeyStore
from tests.conftest import FIXTURE_STRATEGIES

GOOD = b"""
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return None
"""


def client_for(folder: Path, uploads: dict | None = None) -> tuple[TestClient, str, Path]:
    scripted = str(FIXTURE_STRATEGIES / "scripted.py")
    team = {"team_id": "alpha", "name": "Alpha", "strategy": scripted,
            "entry_point": "ScriptedStrategy", "initial_cash": 100_000}  # fmt: skip
    competition = {"sandbox": {"budget_seconds": 2.0}, "uploads": uploads or {}}
    registry = folder / "registry.yaml"
    registry.write_text(yaml.safe_dump({"competition": competition, "teams": [team]}))
    data = folder / "data"
    key = KeyStore(data).ensure(["alpha"])["alpha"]
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=1000))
    return TestClient(app), key, data


@pytest.fixture
def api(tmp_path):
    client, key, data = client_for(tmp_path)
    with client:
        yield client, key, data
    client.app.state.uploads.close()


def upload(client: TestClient, key: str, payload: bytes = GOOD):
    return client.post("/api/v1/team/alpha/strategy", headers={"X-API-Key": key},
                       files={"file": ("strategy.py", payload)})  # fmt: skip


def test_with_no_engine_running_the_version_is_stored_and_the_answer_says_so(api):
    client, key, _data = api
    answer = upload(client, key)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["engine"] == "not running"
    assert "not running" in body["live"]
    stored = client.get("/api/v1/team/alpha/strategy", headers={"X-API-Key": key}).json()
    assert stored["versions"][0]["version"] == body["version"]  # stored: the newest


def test_with_an_engine_running_the_version_goes_live_at_its_next_tick(api):
    client, key, data = api
    mark_engine_running(data)  # what an open Competition writes (this process runs it)
    try:
        answer = upload(client, key)
    finally:
        clear_engine_mark(data)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["engine"], answer.json()["live"]) == (
        "running",
        "from the engine's next tick",
    )


def test_uploads_closed_by_the_organiser_are_refused_and_store_nothing(tmp_path):
    client, key, data = client_for(tmp_path, uploads={"closed": True})
    with client:
        answer = upload(client, key)
    client.app.state.uploads.close()
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"]["problems"] == [
        "uploads are closed: the organiser closed them (competition.uploads.closed)"
    ]
    assert not (data / "strategies" / "alpha").exists()
