"""Issue 15, item 2, on the team page in headless Chromium: a team disabled by faults sees
why, uploads the same file again, and the page says it is live only once the engine has
swapped it in and the team trades again."""

from __future__ import annotations

import threading

import yaml

from app.cli.web import serve_beside
from app.config.registry import load_registry
from app.engine.clock import ReplayClock
from app.market.synthetic import SyntheticMarket
from app.runtime.competition import build_competition
from app.web.keys import KeyStore
from tests.conftest import FIXTURE_STRATEGIES
from tests.runtime.live_processes import free_port, wait_until_answering
from tests.web.browsers import chromium, needs_chromium, wait_for

pytestmark = needs_chromium
PAIRS = FIXTURE_STRATEGIES / "pairs.py"
SUMMARY = "return document.getElementById('team-summary').textContent"


def test_the_same_file_uploaded_again_revives_a_disabled_team_on_the_page(tmp_path):
    registry = tmp_path / "registry.yaml"
    team = {"team_id": "pairsquad", "name": "Pairs", "initial_cash": 100_000,
            "strategy": str(PAIRS), "entry_point": "Strategy"}  # fmt: skip
    registry.write_text(yaml.safe_dump({"competition": {}, "teams": [team]}))
    data = tmp_path / "data"
    market = SyntheticMarket(symbols=["AAA", "BBB"])
    competition = build_competition(load_registry(registry), market, data)
    stop = threading.Event()

    def minutes():
        for minute in ReplayClock(market.minutes()[:390], speed=10).ticks():
            if stop.is_set():
                return
            yield minute

    engine = threading.Thread(target=competition.run, args=(minutes(),), daemon=True)
    engine.start()
    key = KeyStore(data).ensure(["pairsquad"])["pairsquad"]
    port = free_port()
    server = serve_beside(data, registry, port)
    browser = chromium()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url + "/api/v1/leaderboard")
        browser.get(url + "/team")
        browser.find_element("id", "key").send_keys(key)
        browser.find_element("css selector", "#login button").click()
        disabled = f"const t = ({SUMMARY[7:]}); return t.includes('disabled') ? t : null"
        summary = wait_for(browser, disabled, seconds=30)
        assert "no class Strategy in pairs.py" in summary  # why it is not trading
        browser.find_element("id", "upload-file").send_keys(str(PAIRS))
        browser.find_element("css selector", "#upload button").click()
        result = wait_for(
            browser,
            "const t = document.getElementById('upload-result').textContent;"
            "return t.includes('live.') || t.includes('not live') || t.startsWith('Refused')"
            " ? t : null",
            seconds=30,
        )
        assert result.endswith("is live."), result
        assert browser.execute_script(SUMMARY).endswith("active")
        states = browser.execute_script(
            "return [...document.querySelectorAll('#versions tbody tr')]"
            ".map(r => r.lastChild.textContent)"
        )
        assert states == ["live", ""]  # the upload runs; the registry's row is the same code
    finally:
        browser.quit()
        stop.set()
        engine.join(timeout=60)
        server.terminate()
        server.wait(timeout=10)
