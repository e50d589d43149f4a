"""The web page at ``/`` in headless Chromium, against the real server over HTTP.

Set ``WEBUI_SCREENSHOT=docs/webui.png`` to refresh the README's screenshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.server.serving import server_process, wait_ready

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = "<img src=x onerror=alert(1)>李克强在北京"
SHOWCASE = HOSTILE + "会见了德国总理默克尔。中国人民银行在上海召开会议。"
MAX_TEXT_CHARS = 300

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """``python -m ner_inference.server`` (built-in model) on a free loopback port, ready."""
    with server_process(NER_BACKEND="builtin", NER_MAX_TEXT_CHARS=str(MAX_TEXT_CHARS)) as server:
        with server.client() as client:
            wait_ready(client, 90)
        yield server.url


class Browser:
    """A page plus everything it did that the tests forbid: dialogs, errors, foreign requests."""

    def __init__(self, page: playwright_sync.Page, base: str) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.foreign: list[str] = []
        own = urlsplit(base).netloc
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

        def route(request_route: playwright_sync.Route) -> None:
            if urlsplit(request_route.request.url).netloc == own:
                request_route.continue_()
            else:  # no CDN, no fonts, no beacons: only the app itself is contacted
                self.foreign.append(request_route.request.url)
                request_route.abort()

        page.route("**/*", route)

    def _console(self, message: playwright_sync.ConsoleMessage) -> None:
        # Chromium logs every 4xx response as "Failed to load resource"; those are expected.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _dialog(self, dialog: playwright_sync.Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def analyse(self, text: str) -> None:
        box = self.page.locator("#text")
        box.fill("")
        box.press_sequentially(text)
        self.page.locator("#analyse").click()
        self.page.wait_for_selector("#meta:not(:empty), #error:not([hidden])")

    def shown_text(self) -> str:
        """The highlighted text as a reader sees it, without the type tags."""
        return str(
            self.page.locator("#highlighted").evaluate(
                """n => Array.from(n.childNodes).map(c =>
                    c.nodeType === Node.TEXT_NODE ? c.textContent
                    : c.querySelector('.ent-text').textContent).join('')"""
            )
        )

    def marks(self) -> list[tuple[str, str]]:
        found = self.page.eval_on_selector_all(
            "#highlighted mark",
            "marks => marks.map(m => [m.className, m.querySelector('.ent-text').textContent])",
        )
        return [(cls.split("ent-")[-1], text) for cls, text in found]


@pytest.fixture
def browser(server_url: str) -> Iterator[Browser]:
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = chromium.new_page(viewport={"width": 1100, "height": 1000})
            driver = Browser(page, server_url)
            page.goto(server_url + "/")
            page.wait_for_selector("#status.online")
            yield driver
            assert driver.errors == []
            assert driver.foreign == []
        finally:
            chromium.close()


def test_hostile_text_is_shown_as_text_and_its_entities_highlighted(browser: Browser) -> None:
    page = browser.page
    browser.analyse(HOSTILE)

    # The markup stayed text: no element was created from it and no script ran.
    assert page.locator("img").count() == 0
    tags = page.eval_on_selector_all("#highlighted *", "nodes => nodes.map(n => n.tagName)")
    assert set(tags) == {"MARK", "SPAN"}
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert browser.dialogs == []
    assert browser.shown_text() == HOSTILE

    marks = browser.marks()
    assert ("PER", "李克强") in marks
    assert ("LOC", "北京") in marks
    legend = {t: page.locator(f'[data-count="{t}"]').text_content() for t in ("PER", "LOC", "ORG")}
    assert legend == {t: str(sum(kind == t for kind, _ in marks)) for t in ("PER", "LOC", "ORG")}
    json_text = page.locator("#json").text_content() or ""
    assert '"span": "李克强"' in json_text
    assert '"model": "builtin@' in json_text

    screenshot = os.environ.get("WEBUI_SCREENSHOT")
    if screenshot:
        browser.analyse(SHOWCASE)
        assert page.locator("img").count() == 0
        assert browser.shown_text() == SHOWCASE
        page.screenshot(path=screenshot, full_page=True)


def test_offsets_count_code_points_not_utf16_units(browser: Browser) -> None:
    # Emoji (and Han characters outside the BMP) are two UTF-16 units but one Python index.
    browser.analyse("😀😀李克强总理在北京会见了德国总理默克尔。")
    marks = browser.marks()
    assert ("PER", "李克强") in marks
    assert ("LOC", "北京") in marks
    assert ("PER", "默克尔") in marks


def test_errors_from_the_server_are_shown_with_their_detail(browser: Browser) -> None:
    browser.analyse("长" * (MAX_TEXT_CHARS + 1))
    error = browser.page.locator("#error")
    assert error.is_visible()
    message = error.text_content() or ""
    assert message.startswith("error 422:")
    assert str(MAX_TEXT_CHARS) in message  # the server's detail names the limit
    assert browser.page.locator("#highlighted mark").count() == 0
