"""The API's docs with the network off: Swagger UI (/docs) and ReDoc (/redoc) load every
asset from this host and render the API's operations (issue 15, item 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.browsers import chromium, needs_chromium, requests, served_site, wait_for

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def docs_site(arena_dir) -> Iterator[str]:
    registry, data = arena_dir
    with served_site(registry, data) as url:
        yield url


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[object]:
    driver = chromium(offline=True)
    yield driver
    driver.quit()


def local_only(urls: list[str], site: str) -> list[str]:
    """The requests that left this host (none may)."""
    return [u for u in urls if not u.startswith((site + "/", "data:", "blob:"))]


def test_swagger_ui_renders_the_operations_offline(docs_site, offline_browser):
    offline_browser.get(docs_site + "/docs")
    count = "return document.querySelectorAll('#swagger-ui .opblock').length"
    operations = wait_for(offline_browser, f"{count} >= 15 ? {count.removeprefix('return ')} : 0")
    assert operations >= 15
    paths = offline_browser.execute_script(
        "return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent)"
    )
    assert any("/market-data/" in p and "/range" in p for p in paths), paths
    urls = requests(offline_browser)
    assert any(u.endswith("/openapi.json") for u in urls)
    assert local_only(urls, docs_site) == []


def test_redoc_renders_the_operations_offline(docs_site, offline_browser):
    offline_browser.get(docs_site + "/redoc")
    sections = "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
    assert wait_for(offline_browser, f"return {sections} >= 15 ? {sections} : 0") >= 15
    assert local_only(requests(offline_browser), docs_site) == []
