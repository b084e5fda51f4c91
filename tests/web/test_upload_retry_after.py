"""A rate-limited upload says in words when the next upload is possible, and sends
Retry-After (issue 15, item 13); the page shows it (test_browser.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.config.settings import ArenaSettings
from app.web import create_app


def test_a_rate_limited_upload_says_when_the_next_one_is_possible(arena_dir, keys):
    registry, data = arena_dir
    app = create_app(ArenaSettings(registry=registry, data_dir=data, uploads_per_minute=2))
    with TestClient(app) as client:
        headers = {"X-API-Key": keys["beta"]}
        files = {"file": ("x.py", b"junk\xff")}

        def send():
            return client.post("/api/v1/team/beta/strategy", headers=headers, files=files)

        assert [send().status_code for _ in range(2)] == [422, 422]
        refused = send()
    app.state.uploads.close()
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 61
    body = refused.json()
    assert body["retry_after"] == wait
    (problem,) = body["detail"]["problems"]
    assert problem.startswith("too many uploads: 2 a minute per key")
    assert f"the next upload is possible in {wait} s" in problem
