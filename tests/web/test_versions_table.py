"""The versions a team's key lists include the registry's own, the one the engine starts
with and runs until an upload replaces it (issue 15, item 14); upload times are the wall
clock, and the page says which clock each time column is (test_browser.py)."""

from __future__ import annotations


def test_the_registrys_own_version_is_listed_and_is_the_running_one(client, keys):
    headers = {"X-API-Key": keys["alpha"]}
    status = client.get("/api/v1/team/alpha", headers=headers).json()
    versions = client.get("/api/v1/team/alpha/strategy", headers=headers).json()["versions"]
    own = versions[-1]  # newest first: the registry's is the oldest
    assert own["source"] == "registry"
    assert own["version"] == status["strategy_version"]
    assert own["entry_point"] == "ScriptedStrategy"
    assert own["files"] == ["scripted.py"]
    assert own["uploaded_at"] is None
    assert all(v["source"] == "upload" for v in versions[:-1])


def test_the_api_docs_say_which_clock_upload_times_are(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/team/{team_id}/strategy"]
    assert "wall clock" in operation["get"]["description"]
