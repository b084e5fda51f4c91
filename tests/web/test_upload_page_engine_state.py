"""Issue 15, item 5, on the team page in headless Chromium: an upload to a competition whose
engine has finished is stored, and the page says the engine is not running instead of
promising the version for the next tick (decision 0032)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.browsers import chromium, needs_chromium, served_site, wait_for

pytestmark = needs_chromium
GOOD = """
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return None
"""

HUGE_BUY = 'return {"symbol": sorted(current_prices)[0], "action": "buy", "quantity": 10**9}'


@pytest.fixture(scope="module")
def finished_site(arena_dir, keys) -> Iterator[str]:
    """The pages over a competition that ran and finished: no engine runs on it (the keys
    are issued first: the server would issue, and keep to itself, the missing ones)."""
    registry, data = arena_dir
    with served_site(registry, data) as url:
        yield url


def upload_through_the_page(site: str, key: str, source: Path) -> str:
    """Log in with the key, upload the file through the form, and return what is said."""
    browser = chromium()
    try:
        browser.get(site + "/team")
        browser.find_element("id", "key").send_keys(key)
        browser.find_element("css selector", "#login button").click()
        wait_for(browser, "return !document.getElementById('team').hidden")
        browser.find_element("id", "upload-file").send_keys(str(source))
        browser.find_element("css selector", "#upload button").click()
        return wait_for(
            browser,
            "const t = document.getElementById('upload-result').textContent;"
            "return t.startsWith('Version') || t.startsWith('Refused') ? t : null",
            seconds=30,
        )
    finally:
        browser.quit()


def test_an_upload_to_a_finished_competition_says_the_engine_is_not_running(
    finished_site, keys, tmp_path
):
    source = tmp_path / "strategy.py"
    source.write_text(GOOD)
    result = upload_through_the_page(finished_site, keys["alpha"], source)
    assert "stored, but the engine is not running" in result, result
    assert "next tick" not in result


def test_the_smoke_calls_rule_refusals_are_shown_as_warnings(finished_site, keys, tmp_path):
    """Issue 15, item 8: a signal a rule refuses (cash) does not refuse the upload; the page
    shows the warning."""
    source = tmp_path / "strategy.py"
    source.write_text(GOOD.replace("return None", HUGE_BUY))
    result = upload_through_the_page(finished_site, keys["beta"], source)
    assert "Warnings from the smoke call: signal 0: insufficient cash" in result, result
