"""The pages in real headless Chromium (Debian's chromium and chromedriver, driven by
Selenium): the leaderboard draws its charts, and a team opens its page with its key."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.cli_web import serve_beside
from tests.live_processes import free_port

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which(DRIVER)),
    reason="Chromium is installed by `make test` (apt: chromium, chromium-driver)",
)


@pytest.fixture(scope="module")
def site(arena_dir, keys) -> Iterator[str]:
    registry, data = arena_dir
    port = free_port()
    server = serve_beside(data, registry, port)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/api/v1/leaderboard", timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "arena serve did not start"
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)  # fmt: skip
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, script: str, seconds: float = 15.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: d.execute_script(script))


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
