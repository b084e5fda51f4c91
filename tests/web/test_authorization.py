"""Every team and admin endpoint, called with no key, a wrong key, another team's key, the
right key and the organiser's: the status code, and no other team's data in the body."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.keys import ORGANISER

TEAM_ENDPOINTS = ["", "/trades", "/history", "/metrics", "/events", "/errors", "/line"]
ADMIN_CALLS = [
    ("POST", "/api/v1/admin/kill-switch", {"mode": "block"}),
    ("DELETE", "/api/v1/admin/kill-switch", None),
    ("POST", "/api/v1/admin/teams/beta/disable", None),
    ("POST", "/api/v1/admin/teams/beta/enable", None),
    ("POST", "/api/v1/admin/fold", {"day": "2026-03-12"}),
]
WRONG = "arena_team_" + "x" * 43


def call(client: TestClient, method: str, path: str, key: str | None, body=None, how="header"):
    headers = {"X-API-Key": key} if key and how == "header" else {}
    params = {"key": key} if key and how == "query" else {}
    return client.request(method, path, headers=headers, params=params, json=body)


@pytest.mark.parametrize("endpoint", TEAM_ENDPOINTS)
@pytest.mark.parametrize("how", ["header", "query"])
def test_a_team_endpoint_opens_only_to_its_team_and_the_organiser(
    client: TestClient, keys: dict[str, str], endpoint: str, how: str
):
    path = f"/api/v1/team/alpha{endpoint}"
    assert call(client, "GET", path, None, how=how).status_code == 401
    assert call(client, "GET", path, WRONG, how=how).status_code == 401
    other = call(client, "GET", path, keys["beta"], how=how)
    assert other.status_code == 403
    assert "alpha_" not in other.text  # nothing of alpha's leaks in the refusal
    own = call(client, "GET", path, keys["alpha"], how=how)
    assert own.status_code == 200, own.text
    assert "beta" not in own.text.lower()  # no trade, position or name of another team
    organiser = call(client, "GET", path, keys[ORGANISER], how=how)
    assert organiser.status_code == 200
    assert organiser.text == own.text or endpoint == ""  # status carries the time it was read


def test_the_bodies_hold_the_teams_own_data(client: TestClient, keys: dict[str, str]):
    alpha = {"X-API-Key": keys["alpha"]}
    status = client.get("/api/v1/team/alpha", headers=alpha).json()
    assert status["positions"]["AAA"]["quantity"] == "6"
    trades = client.get("/api/v1/team/alpha/trades", headers=alpha).json()["items"]
    assert [t["side"] for t in trades] == ["sell", "buy"]  # newest first
    errors = client.get("/api/v1/team/alpha/errors", headers=alpha).json()["items"]
    assert any(e["kind"] == "rejected_signal" for e in errors)
    events = client.get("/api/v1/team/alpha/events", headers=alpha).json()["items"]
    assert events == errors  # /errors is the events' earlier name, kept for old clients
    assert any(e["kind"] == "signal_accepted" and e["symbol"] == "AAA" for e in events)
    line = client.get("/api/v1/team/alpha/line", params={"key": keys["alpha"]}).text
    assert line.startswith("alpha rank ")
    assert line.endswith("\n")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_endpoints_open_only_to_the_organiser(
    client: TestClient, keys: dict[str, str], method: str, path: str, body
):
    assert call(client, method, path, None, body).status_code == 401
    assert call(client, method, path, WRONG, body).status_code == 401
    assert call(client, method, path, keys["alpha"], body).status_code == 403
    assert call(client, method, path, keys["beta"], body).status_code == 403
    answer = call(client, method, path, keys[ORGANISER], body)
    assert answer.status_code == 200, answer.text


def test_market_data_needs_a_key_and_serves_any_team(client: TestClient, keys: dict[str, str]):
    path = "/api/v1/market-data/AAA/recent/3"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"X-API-Key": WRONG}).status_code == 401
    for owner in ("alpha", "beta", ORGANISER):
        answer = client.get(path, headers={"X-API-Key": keys[owner]})
        assert answer.status_code == 200
        assert len(answer.json()["bars"]) == 3


def test_the_public_leaderboard_shows_figures_and_nothing_private(client: TestClient):
    answer = client.get("/api/v1/leaderboard")
    assert answer.status_code == 200
    rows = answer.json()["teams"]
    assert {r["team_id"] for r in rows} == {"alpha", "beta"}
    assert set(rows[0]) == {"rank", "team_id", "name", "return_pct", "equity", "sharpe",
                            "max_drawdown_pct", "trades", "status", "risk"}  # fmt: skip
    for private in ("positions", "trade_id", "alpha_2026", "rejected", "strategy.py"):
        assert private not in answer.text


def test_an_unknown_team_is_404_for_the_organiser_and_403_for_a_team(
    client: TestClient, keys: dict[str, str]
):
    path = "/api/v1/team/nobody"
    assert client.get(path, headers={"X-API-Key": keys[ORGANISER]}).status_code == 404
    assert client.get(path, headers={"X-API-Key": keys["alpha"]}).status_code == 403


def test_keys_are_stored_only_as_hashes_and_a_rotated_key_stops_working(tmp_path):
    from app.web.keys import KeyStore

    store = KeyStore(tmp_path)
    old = store.ensure(["alpha"])["alpha"]
    assert store.ensure(["alpha"]) == {}  # an existing key is never shown again
    text = store.path.read_text()
    assert old not in text
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert store.who(old) == "alpha"
    new = store.issue("alpha")
    assert store.who(old) is None
    assert store.who(new) == "alpha"
    assert store.who("") is None


def test_the_pages_and_their_vendored_assets_are_served(client: TestClient, keys):
    page = client.get("/leaderboard")
    assert page.status_code == 200
    assert "/static/vendor/uplot/uPlot.iife.min.js" in page.text
    assert "Alpha" in page.text
    assert "positions" not in page.text
    script = client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert script.status_code == 200
    assert "uPlot" in script.text
    assert client.get("/team").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"X-API-Key": keys["beta"]}).json() == {
        "team_id": "beta",
        "organiser": False,
        "teams": [{"team_id": "beta", "name": "Beta"}],
    }
    organiser = client.get("/api/v1/me", headers={"X-API-Key": keys[ORGANISER]}).json()
    assert organiser["organiser"] is True
    assert [t["team_id"] for t in organiser["teams"]] == ["alpha", "beta"]
