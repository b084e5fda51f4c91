"""The pages in real headless Chromium (Debian's chromium and chromedriver, driven by
Selenium): the leaderboard draws its charts, and a team opens its page with its key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.cli.web import serve_beside
from tests.runtime.live_processes import free_port, wait_until_answering
from tests.web.browsers import chromium, needs_chromium, served_site, wait_for

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(arena_dir, keys) -> Iterator[str]:
    registry, data = arena_dir
    with served_site(registry, data) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    driver = chromium()
    yield driver
    driver.quit()


def test_the_leaderboard_draws_every_teams_curve(site, browser):
    browser.get(site + "/leaderboard")
    drawn = wait_for(browser, "return document.getElementById('chart').dataset.drawn")
    assert drawn == "2"
    canvases = browser.execute_script("return document.querySelectorAll('#chart canvas').length")
    assert canvases >= 1
    rows = browser.execute_script("return document.querySelectorAll('#board tbody tr').length")
    assert rows == 2
    assert "Updated" in browser.find_element("id", "updated").text


def test_a_team_logs_in_with_its_key_and_sees_its_own_page(site, browser, keys):
    browser.get(site + "/team")
    browser.find_element("id", "key").send_keys("arena_team_wrong")
    browser.find_element("css selector", "#login button").click()
    error = wait_for(browser, "return document.getElementById('login-error').textContent")
    assert error.startswith("401")
    field = browser.find_element("id", "key")
    field.clear()
    field.send_keys(keys["alpha"])
    browser.find_element("css selector", "#login button").click()
    wait_for(browser, "return !document.getElementById('team').hidden")
    assert browser.find_element("id", "team-name").text == "Alpha"
    positions = browser.execute_script(
        "return [...document.querySelectorAll('#positions tbody td')].map(td => td.textContent)"
    )
    assert positions[:2] == ["AAA", "6"]
    assert wait_for(browser, "return document.getElementById('team-chart').dataset.drawn") == "1"


BUYER = """
class Strategy:
    def __init__(self, params):
        pass

    def generate_signal(self, team, bars, current_prices):
        return {"symbol": sorted(current_prices)[0], "action": "buy", "quantity": 1}
"""


def test_a_team_uploads_through_the_form_and_sees_its_version_go_live(browser, tmp_path):
    import threading

    import yaml

    from app.config.registry import load_registry
    from app.engine.clock import ReplayClock
    from app.market.synthetic import SyntheticMarket
    from app.runtime.competition import build_competition
    from app.web.keys import KeyStore
    from tests.conftest import FIXTURE_STRATEGIES

    registry = tmp_path / "registry.yaml"
    scripted = str(FIXTURE_STRATEGIES / "scripted.py")
    team = {"team_id": "alpha", "name": "Alpha", "initial_cash": 100_000,
            "strategy": scripted, "entry_point": "ScriptedStrategy"}  # fmt: skip
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": [team]}))
    data = tmp_path / "data"
    market = SyntheticMarket(symbols=4)
    competition = build_competition(load_registry(registry), market, data)
    stop = threading.Event()

    def minutes():
        for minute in ReplayClock(market.minutes()[:390], speed=10).ticks():
            if stop.is_set():
                return
            yield minute

    engine = threading.Thread(target=competition.run, args=(minutes(),), daemon=True)
    engine.start()
    key = KeyStore(data).ensure(["alpha"])["alpha"]
    port = free_port()
    server = serve_beside(data, registry, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url + "/api/v1/leaderboard")
        source = tmp_path / "strategy.py"
        source.write_text(BUYER)
        browser.get(url + "/team")
        browser.find_element("id", "key").send_keys(key)
        browser.find_element("css selector", "#login button").click()
        wait_for(browser, "return !document.getElementById('team').hidden")
        browser.find_element("id", "upload-file").send_keys(str(source))
        browser.find_element("css selector", "#upload button").click()
        result = wait_for(
            browser,
            "const t = document.getElementById('upload-result').textContent;"
            "return t.includes('is live') || t.startsWith('Refused') ? t : null",
            seconds=30,
        )
        assert result.endswith("is live."), result
        live = browser.execute_script(
            "return [...document.querySelectorAll('#versions tbody tr')]"
            ".map(r => r.lastChild.textContent)"
        )
        assert live == ["live", ""]  # the upload, then the registry's own
    finally:
        stop.set()
        engine.join(timeout=60)
        server.terminate()
        server.wait(timeout=10)


def log_in(browser, site: str, key: str) -> None:
    """A fresh team page (no key kept from an earlier test), opened with `key`."""
    browser.get(site + "/team")
    browser.execute_script("sessionStorage.clear()")
    browser.get(site + "/team")
    browser.find_element("id", "key").send_keys(key)
    browser.find_element("css selector", "#login button").click()


def test_the_organisers_key_opens_a_team_picker(site, browser, keys):
    log_in(browser, site, keys["organiser"])
    wait_for(browser, "return document.querySelectorAll('#team-picker option').length")
    assert browser.find_element("id", "login-error").text == ""
    options = browser.execute_script(
        "return [...document.querySelectorAll('#team-picker option')].map(o => o.value)"
    )
    assert options == ["alpha", "beta"]
    assert browser.find_element("id", "team-name").text == "Alpha"
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "team-picker")).select_by_value("beta")
    wait_for(browser, "return document.getElementById('team-name').textContent === 'Beta'")
    positions = browser.execute_script(
        "return [...document.querySelectorAll('#positions tbody td')].map(td => td.textContent)"
    )
    assert positions[:1] == ["BBB"]


def test_a_rate_limited_upload_says_when_the_next_is_possible(site, browser, keys, tmp_path):
    log_in(browser, site, keys["beta"])
    wait_for(browser, "return document.getElementById('team-name').textContent === 'Beta'")
    spent = browser.execute_async_script(  # the six uploads of this minute, refused fast
        "const done = arguments[1]; const sends = [];"
        "for (let i = 0; i < 6; i++) sends.push(fetch('/api/v1/team/beta/strategy',"
        " {method: 'POST', headers: {'X-API-Key': arguments[0]}, body: 'x'}));"
        "Promise.all(sends).then(r => done(r.map(a => a.status)));",
        keys["beta"],
    )
    assert 429 not in spent
    source = tmp_path / "strategy.py"
    source.write_text(BUYER)
    browser.find_element("id", "upload-file").send_keys(str(source))
    browser.find_element("css selector", "#upload button").click()
    text = wait_for(
        browser,
        "const t = document.getElementById('upload-result').textContent;"
        "return t.startsWith('Not uploaded') || t.startsWith('Refused') ? t : null",
    )
    assert text.startswith("Not uploaded: too many uploads (6 a minute per key)."), text
    assert "The next upload is possible in " in text
    assert "{" not in text
    assert browser.find_element("css selector", "#upload button").get_attribute("disabled")


def test_the_versions_table_shows_the_registrys_version_live_and_names_the_clocks(
    site, browser, keys
):
    log_in(browser, site, keys["alpha"])
    rows = "return [...document.querySelectorAll('#versions tbody tr')].map(r => [...r.cells]"
    found = wait_for(browser, rows + ".map(c => c.textContent))")
    assert len(found) == 1
    version, uploaded, entry, files, state = found[0]
    assert (uploaded, entry, files, state) == (
        "the registry's (at start)",
        "ScriptedStrategy",
        "scripted.py",
        "live",
    )
    assert version in browser.find_element("id", "team-summary").text
    headers = browser.execute_script(
        "return [...document.querySelectorAll('th')].map(h => h.textContent)"
    )
    assert "Uploaded (wall clock, UTC)" in headers
    assert headers.count("Market time (UTC)") == 2
