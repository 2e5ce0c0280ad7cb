"""Playwright and Debian's Chromium agree: the browser launches, speaks the protocol, and is
close enough to the Chromium this Playwright was released against."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser.harness import major, playwright_chromium_version

#: How far (in major versions) Debian's Chromium may lag or lead Playwright's own build before
#: the protocol drifts; past it, upgrade one of them (pyproject's playwright pin or the package).
DRIFT = 6


def test_chromium_matches_playwright(browser: Browser) -> None:
    """Debian's Chromium is within DRIFT majors of Playwright's and renders and runs a page."""
    expected = playwright_chromium_version()
    installed = browser.version
    assert abs(major(installed) - major(expected)) <= DRIFT, (
        f"/usr/bin/chromium is {installed} but playwright (pinned in pyproject.toml) was built "
        f"for Chromium {expected}: move the pin to a Playwright release near {installed} or "
        "upgrade the chromium package"
    )
    page = browser.new_page()
    page.set_content("<main><h1>ready</h1></main>")
    assert page.inner_text("h1") == "ready"
    assert page.evaluate("() => 6 * 7") == 42
    page.close()
