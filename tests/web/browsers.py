"""Headless Chromium for the page tests (Debian's chromium and chromedriver, driven by
Selenium), optionally with the network off but for this machine, recording every request."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which(DRIVER)),
    reason="Chromium is installed by `make test` (apt: chromium, chromium-driver)",
)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
)
# No name resolves and no address is reached but this machine's: the network is off.
OFFLINE = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
)


def chromium(offline: bool = False):
    """A driver; `offline`: only 127.0.0.1 answers, and requests() lists what was asked."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (OFFLINE if offline else ()):
        options.add_argument(flag)
    if offline:
        options.add_argument("--proxy-bypass-list=127.0.0.1")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def requests(driver) -> list[str]:
    """Every URL the page asked for since the last call (Chrome's DevTools log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_for(driver, script: str, seconds: float = 15.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(lambda d: d.execute_script(script))


@contextlib.contextmanager
def served_site(registry: Path, data: Path) -> Iterator[str]:
    """`arena serve` over a data directory in its own process, answering; its base URL."""
    from app.cli.web import serve_beside
    from tests.runtime.live_processes import free_port, wait_until_answering

    port = free_port()
    server = serve_beside(data, registry, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + "/api/v1/leaderboard")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
