"""/docs and /redoc in a real browser (Debian's Chromium, driven by Playwright) with every
request off this server refused: the pages load their scripts from vidgate itself, show the
operations, and a request sent from Swagger's "Try it out" with its example body succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, Route, sync_playwright

from tests.conftest import settings_for_tests
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.cli import main as cli

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser of its own here


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """vidgate on a free port, and a sandbox key for it."""
    created = CliRunner().invoke(cli, ["keys", "create", "--name", "docs", "--sandbox"],
                                 env={"VIDGATE_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": None})
    assert created.exit_code == 0, created.output
    with serve_in_thread(create_app(settings_for_tests(tmp_path / "data"))) as base:
        yield base, created.stdout.strip().splitlines()[-1]


@pytest.fixture
def page(served: tuple[str, str], tmp_path: Path) -> Iterator[tuple[Page, list[str]]]:
    """A page in headless Chromium that may reach the server alone; the other URLs it tried."""
    base, _key = served
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(base).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.route("**/*", only_this_server)
            yield context.new_page(), elsewhere
        finally:
            browser.close()


def test_swagger_ui_works_offline_and_its_example_request_succeeds(
    served: tuple[str, str], page: tuple[Page, list[str]], tmp_path: Path
) -> None:
    base, key = served
    browser_page, elsewhere = page
    browser_page.goto(f"{base}/docs")
    operations = browser_page.locator(".opblock")
    operations.first.wait_for(timeout=30_000)
    assert operations.count() >= 12
    browser_page.screenshot(path=tmp_path / "docs.png", full_page=True)

    browser_page.click("button.authorize")
    browser_page.fill(".auth-container input", key)
    browser_page.click(".auth-btn-wrapper button.authorize")
    browser_page.click(".auth-btn-wrapper button.btn-done")
    generate = browser_page.locator("#operations-videos-create_generation")
    generate.locator(".opblock-summary").click()
    generate.locator(".try-out__btn").click()
    generate.locator(".execute").click()
    status = generate.locator(".live-responses-table tbody .response-col_status")
    status.wait_for(timeout=90_000)
    browser_page.screenshot(path=tmp_path / "docs-try-it-out.png", full_page=True)
    assert status.inner_text().strip() == "200", generate.locator(".live-responses-table").inner_text()
    assert '"model": "vidgate/local"' in generate.locator(".live-responses-table").inner_text()
    assert elsewhere == []


def test_redoc_works_offline(served: tuple[str, str], page: tuple[Page, list[str]], tmp_path: Path) -> None:
    base, _key = served
    browser_page, elsewhere = page
    browser_page.goto(f"{base}/redoc")
    browser_page.get_by_role("heading", name="Generate a video").first.wait_for(timeout=30_000)
    browser_page.screenshot(path=tmp_path / "redoc.png")
    for operation in ("List jobs", "Get a job", "List models", "Credits and video seconds"):
        assert browser_page.get_by_role("heading", name=operation).count() >= 1, operation
    assert elsewhere == []
