"""The playground at / in a real browser (Debian's Chromium, driven by Playwright), with every
request off this server refused: a sandbox key entered once, a text-to-video job at 9:16 played
in the page, an image-to-video job from an uploaded file, a long job cancelled from the list,
and the API's 402 shown when credits run out. Screenshots of each step are kept in the test's
temporary folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, Request, Route, expect, sync_playwright

from tests.conftest import make_png, settings_for_tests
from tests.live_server import serve_in_thread
from vidgate.app import create_app
from vidgate.cli import main as cli

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser of its own here
PLAYABLE = "(v) => v.readyState >= 3 && v.videoWidth > 0"


def new_key(data: Path, *options: str) -> str:
    created = CliRunner().invoke(cli, ["keys", "create", "--name", "playground", "--sandbox", *options],
                                 env={"VIDGATE_DATA_DIR": str(data), "DATABASE_URL": None})
    assert created.exit_code == 0, created.output
    return str(created.stdout.strip().splitlines()[-1])


class Browser:
    def __init__(self, page: Page, base: str, shots: Path) -> None:
        self.page, self.base, self.shots = page, base, shots
        self.elsewhere: list[str] = []
        self.urls: list[str] = []

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def enter_key(self, key: str) -> None:
        self.page.get_by_role("textbox", name=re.compile("^Key")).fill(key)
        self.page.get_by_role("button", name="Use this key").click()
        expect(self.page.locator("#quota")).to_contain_text("credits")

    def generate(self) -> str:
        """Submit the form; the id of the job it made (the line about the job before it
        changes once the new one is accepted)."""
        before = re.findall(r"job_[0-9a-f]{24}", self.page.locator("#job-line").inner_text())
        self.page.get_by_role("button", name="Generate").click()
        self.page.wait_for_function(
            "(before) => { const id = document.getElementById('job-line').textContent.match(/job_[0-9a-f]{24}/);"
            " return id && id[0] !== before; }", arg=before[0] if before else None, timeout=60_000)
        found = re.search(r"job_[0-9a-f]{24}", self.page.locator("#job-line").inner_text())
        assert found is not None
        return found.group(0)

    def played(self, width: int, height: int) -> None:
        video = self.page.locator("#video")
        video.wait_for(state="visible", timeout=90_000)
        self.page.wait_for_function(f"({PLAYABLE})(document.getElementById('video'))", timeout=30_000)
        assert video.evaluate("(v) => [v.videoWidth, v.videoHeight]") == [width, height]
        expect(self.page.locator("#facts")).to_contain_text(f"{width} x {height}")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[tuple[Browser, str, str]]:
    """The page on a running vidgate, a rich sandbox key and a poor one."""
    data = tmp_path / "data"
    rich, poor = new_key(data), new_key(data, "--credits", "5")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with serve_in_thread(create_app(settings_for_tests(data, workers=1))) as base, sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            driver = Browser(page, base, shots)

            def only_this_server(route: Route) -> None:
                if urlsplit(route.request.url).netloc == urlsplit(base).netloc:
                    route.continue_()
                else:
                    driver.elsewhere.append(route.request.url)
                    route.abort()

            def seen(request: Request) -> None:
                driver.urls.append(request.url)

            context.route("**/*", only_this_server)
            page.on("request", seen)
            yield driver, rich, poor
        finally:
            chromium.close()


def test_a_first_video_from_the_playground(browser: tuple[Browser, str, str], tmp_path: Path) -> None:
    driver, rich, poor = browser
    page = driver.page
    page.goto(driver.base + "/")
    expect(page.get_by_role("heading", name="Make a video")).to_be_visible()
    driver.shot("01-opened")
    driver.enter_key(rich)
    expect(page.locator("#quota")).to_contain_text("10000 credits and 600 video seconds left")

    # text to video at 9:16, played in the page
    page.get_by_label("Model", exact=True).select_option("vidgate/local")
    page.get_by_label("Prompt", exact=True).fill("A paper boat drifting down a rainy street")
    page.get_by_label("Aspect ratio", exact=True).select_option("9:16")
    page.get_by_label("Duration (s)").first.fill("2")
    expect(page.locator("#estimate")).to_contain_text("20 credits")
    driver.generate()
    driver.played(720, 1280)
    expect(page.locator("#facts")).to_contain_text("Optimized prompt")
    expect(page.locator("#facts")).to_contain_text("20")  # credits used
    driver.shot("02-text-to-video-played")

    # image to video from a file uploaded from the computer: the source's 4:3 shape
    source = tmp_path / "lighthouse.png"
    source.write_bytes(make_png(640, 480))
    page.get_by_label("Mode", exact=True).select_option("image_to_video")
    expect(page.get_by_label("Aspect ratio", exact=True)).to_have_value("auto")
    page.get_by_label("Upload a file").set_input_files(str(source))
    page.get_by_label("Prompt", exact=True).fill("The light turns slowly")
    page.get_by_label("Duration (s)").first.fill("1")
    image_job = driver.generate()
    driver.played(960, 720)
    expect(page.locator("#jobs")).to_contain_text(image_job)
    driver.shot("03-image-to-video-played")

    # a long job, cancelled from the list of recent jobs
    page.get_by_label("Mode", exact=True).select_option("text_to_video")
    page.get_by_label("Resolution", exact=True).select_option("4k")
    page.get_by_label("Duration (s)").first.fill("60")
    long_job = driver.generate()
    page.get_by_role("button", name=f"Cancel job {long_job}").click()
    expect(page.locator(f"tr[data-job='{long_job}']")).to_contain_text("cancelled", timeout=30_000)
    expect(page.locator("#job-line")).to_contain_text("cancelled")
    driver.shot("04-long-job-cancelled")

    # a key without the credits: the API's 402, as it words it
    page.get_by_role("button", name="Forget key").click()
    driver.enter_key(poor)
    page.get_by_label("Resolution", exact=True).select_option("720p")
    page.get_by_label("Duration (s)").first.fill("5")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("Credits limit exceeded (HTTP 402)")
    driver.shot("05-out-of-credits")

    assert driver.elsewhere == []  # nothing from another site
    assert not [url for url in driver.urls if rich in url or poor in url]  # the key never in a URL


def test_the_playground_fits_a_phone_and_labels_every_control(browser: tuple[Browser, str, str]) -> None:
    driver, rich, _poor = browser
    page = driver.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(driver.base + "/playground")
    driver.enter_key(rich)
    expect(page.get_by_label("Model", exact=True)).to_have_value("vidgate/local")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea, button')]
        .filter((c) => c.offsetParent !== null)
        .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.textContent.trim())
        .map((c) => c.id || c.outerHTML)""")
    assert unlabelled == []
    page.keyboard.press("Tab")  # the controls are reachable by keyboard: focus moves into the page
    assert page.evaluate("document.activeElement !== document.body")
    driver.shot("06-phone")
    assert page.evaluate("sessionStorage.getItem('vidgate.key')") == rich
    page.reload()  # the key stays for this tab, and the page starts with it
    expect(page.locator("#quota")).to_contain_text("credits")
