"""Issue 15, item 5, on the team page in headless Chromium: an upload to a competition whose
engine has finished is stored, and the page says the engine is not running instead of
promising the version for the next tick (decision 0032)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.cli.web import serve_beside
from tests.runtime.live_processes import free_port, wait_until_answering
from tests.web.browsers import chromium, needs_chromium, wait_for

pytestmark = needs_chromium
GOOD = """
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return None
"""


@pytest.fixture
def finished_site(arena_dir) -> Iterator[str]:
    """The pages over a competition that ran and finished: no engine runs on it."""
    registry, data = arena_dir
    port = free_port()
    server = serve_beside(data, registry, port)
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(url + "/api/v1/leaderboard")
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_an_upload_to_a_finished_competition_says_the_engine_is_not_running(
    finished_site, keys, tmp_path
):
    source = tmp_path / "strategy.py"
    source.write_text(GOOD)
    browser = chromium()
    try:
        browser.get(finished_site + "/team")
        browser.find_element("id", "key").send_keys(keys["alpha"])
        browser.find_element("css selector", "#login button").click()
        wait_for(browser, "return !document.getElementById('team').hidden")
        browser.find_element("id", "upload-file").send_keys(str(source))
        browser.find_element("css selector", "#upload button").click()
        result = wait_for(
            browser,
            "const t = document.getElementById('upload-result').textContent;"
            "return t.startsWith('Version') || t.startsWith('Refused') ? t : null",
            seconds=30,
        )
        assert "stored, but the engine is not running" in result, result
        assert "next tick" not in result
    finally:
        browser.quit()
